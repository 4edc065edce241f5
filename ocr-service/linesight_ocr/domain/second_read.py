"""A second look at values the page read got wrong: the words of each doubtful value cut out, turned
upright, scaled to a larger size and stacked into one small image that Tesseract reads once as a block of
lines, allowed only the characters codes are made of. Catches what the page read misses on small or
blurred text (`]`, `)`, `°` inside a serial, a MAC's `Q` that can only be a `0`)."""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image

from linesight_ocr.domain import engine
from linesight_ocr.domain.preprocess import Prepared
from linesight_ocr.domain.tesseract_pass import Word

CODE_CHARACTERS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ#-/.:"
CROP_TEXT_HEIGHT_PX = 36
MARGIN_PX = 16
SECOND_READ_VARIABLES = (("tessedit_char_whitelist", CODE_CHARACTERS),)


def crop_upright(prepared: Prepared, words: Sequence[Word]) -> Image.Image:
    x1 = min(w.image_box[0] for w in words)
    y1 = min(w.image_box[1] for w in words)
    x2 = max(w.image_box[2] for w in words)
    y2 = max(w.image_box[3] for w in words)
    pad = max(2, round(0.15 * min(x2 - x1, y2 - y1)))
    crop = prepared.image.crop((x1 - pad, y1 - pad, x2 + pad, y2 + pad))
    turn = words[0].image_turn
    if turn:
        crop = crop.rotate(-turn, expand=True, fillcolor=255)
    scale = CROP_TEXT_HEIGHT_PX / max(1, crop.height)
    return crop.resize((max(1, round(crop.width * scale)), CROP_TEXT_HEIGHT_PX), Image.Resampling.BICUBIC)


def reread(
    prepared: Prepared, values: Sequence[Sequence[Word]], languages: Sequence[str], timeout: float
) -> list[tuple[str, float] | None]:
    """For each value (its words), the text read again and its confidence (lowest word); None where
    nothing was read."""
    if not values:
        return []
    crops = [crop_upright(prepared, words) for words in values]
    width = max(c.width for c in crops) + 2 * MARGIN_PX
    step = CROP_TEXT_HEIGHT_PX + 2 * MARGIN_PX
    sheet = Image.new("L", (width, step * len(crops)), 255)
    for i, crop in enumerate(crops):
        sheet.paste(crop, (MARGIN_PX, i * step + MARGIN_PX))
    texts: list[list[tuple[int, str, float]]] = [[] for _ in values]
    with engine.pool().engine("+".join(languages), engine.PSM.SINGLE_BLOCK, SECOND_READ_VARIABLES) as api:
        engine.recognise(api, sheet, timeout)
        for text, box, conf in engine.words(api):
            left, top, _, bottom = box
            row = ((top + bottom) // 2) // step
            if 0 <= row < len(values):
                texts[row].append((left, text, conf / 100.0))
    out: list[tuple[str, float] | None] = []
    for found in texts:
        if not found:
            out.append(None)
            continue
        found.sort()
        out.append(("".join(t for _, t, _ in found), min(c for _, _, c in found)))
    return out
