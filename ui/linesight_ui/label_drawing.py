"""A label photo with each code's token boxes drawn on it, and any photo with tagged boxes (a dataset
item's labels); Pillow, no Streamlit."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

from PIL import Image, ImageDraw, ImageFont, ImageOps

Color = tuple[int, int, int]
# RGB per code state: sure (green), doubtful (orange), wrong as read (red), confirmed by a person (blue).
SURE = (22, 163, 74)
DOUBTFUL = (234, 140, 0)
WRONG = (220, 38, 38)
CONFIRMED = (37, 99, 235)
# One colour per class id (cycled), readable with white text on it: dataset boxes and instance masks.
PALETTE: tuple[Color, ...] = (
    (37, 99, 235),
    (220, 38, 38),
    (22, 163, 74),
    (234, 140, 0),
    (147, 51, 234),
    (8, 145, 178),
    (190, 24, 93),
    (101, 84, 52),
)


def code_color(code: Mapping[str, Any]) -> Color:
    """The colour a code's boxes are drawn in, from its validation and review state."""
    if not code.get("valid", True):
        return WRONG
    review = code.get("review")
    if review in ("approved", "corrected", "added"):
        return CONFIRMED
    if review == "flagged" or code.get("barcode_disagrees"):
        return DOUBTFUL
    return SURE


def tag_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # a Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def draw_codes(photo: bytes, codes: Sequence[Mapping[str, Any]]) -> bytes:
    """The photo (EXIF orientation applied, as the boxes are) as PNG, each code's token boxes outlined
    in its colour and tagged with its number in the codes table and its type. Boxes outside the photo are
    clipped to it; a code without boxes (added by a person) draws nothing."""
    groups = [
        (code.get("token_boxes") or [], code_color(code), f"{number} {code.get('type', '?')}")
        for number, code in enumerate(codes, start=1)
    ]
    return draw_tagged(photo, groups)


def draw_tagged(photo: bytes, groups: Sequence[tuple[Sequence[Mapping[str, float]], Color, str]]) -> bytes:
    """The photo (EXIF orientation applied) as PNG with each group of boxes ({x1, y1, x2, y2} in its
    pixels) outlined in the group's colour, its tag written over the group's first box (under it at the
    photo's top edge). Boxes outside the photo are clipped to it."""
    with Image.open(io.BytesIO(photo)) as opened:
        image = ImageOps.exif_transpose(opened).convert("RGB")
    width, height = image.size
    draw = ImageDraw.Draw(image)
    line = max(2, round(min(width, height) / 250))
    font = tag_font(max(12, round(min(width, height) / 30)))
    for boxes, color, tag in groups:
        for n, box in enumerate(boxes):
            x1, x2 = sorted((max(0, min(width - 1, int(box["x1"]))), max(0, min(width - 1, int(box["x2"])))))
            y1, y2 = sorted(
                (max(0, min(height - 1, int(box["y1"]))), max(0, min(height - 1, int(box["y2"]))))
            )
            draw.rectangle((x1, y1, x2, y2), outline=color, width=line)
            if n == 0:  # one tag per group, over its first box
                left, top, right, bottom = draw.textbbox((0, 0), tag, font=font)
                tag_w, tag_h = right - left + 2 * line, bottom - top + 2 * line
                ty = y1 - tag_h if y1 - tag_h >= 0 else min(height - tag_h, y2 + 1)
                tx = min(x1, max(0, width - tag_w))
                draw.rectangle((tx, ty, tx + tag_w, ty + tag_h), fill=color)
                draw.text((tx + line - left, ty + line - top), tag, fill=(255, 255, 255), font=font)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
