"""Token features for the token classifier: the token's shape and length, which code formats it fits,
where it sits from the label's keys, and its neighbours on the line. Computed the same way from a read
being parsed (Tesseract's words) and from an exported read (its tokens), so training and use agree."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from linesight_core.label_codes import is_key_word
from linesight_ocr.domain.codes import gtin_type, gtin_valid, read_mac, repair_digits
from linesight_ocr.domain.keys import EDGE_PUNCTUATION, KeyTable, Piece, lines_of
from linesight_ocr.domain.tesseract_pass import Word, block_rotation, upright_box
from linesight_ocr.domain.vendors import VendorProfile

# What a token can be; GTIN types are one class (the number of digits tells them apart).
CLASSES = ("serial", "part_number", "model", "mac", "gtin", "key", "other")
GTIN_LABELS = frozenset({"ean13", "ean8", "upca", "gtin14"})
FIELDS = ("serial", "part_number", "model", "mac", "gtin")
MAX_DISTANCE = 20.0  # in text heights


def class_of(label: str) -> str:
    return "gtin" if label in GTIN_LABELS else label if label in CLASSES else "other"


def words_from_tokens(tokens: Sequence[Mapping[str, Any]]) -> list[Word]:
    """Words from exported tokens (boxes on the upload): each block turned upright the way its words
    run in reading order, as the service does with Tesseract's own output."""
    by_block: dict[int, list[Mapping[str, Any]]] = {}
    for token in tokens:
        by_block.setdefault(int(token.get("block", 0)), []).append(token)
    width = max((int(t["box"]["x2"]) for t in tokens), default=1)
    height = max((int(t["box"]["y2"]) for t in tokens), default=1)
    words = []
    for block, block_tokens in by_block.items():
        lines: dict[int, list[tuple[int, int, int, int]]] = {}
        for t in sorted(block_tokens, key=lambda t: (int(t.get("line", 0)), int(t.get("word", 0)))):
            b = t["box"]
            lines.setdefault(int(t.get("line", 0)), []).append((b["x1"], b["y1"], b["x2"], b["y2"]))
        rotation = block_rotation(list(lines.values()), 0)
        for t in block_tokens:
            b = t["box"]
            box = (int(b["x1"]), int(b["y1"]), int(b["x2"]), int(b["y2"]))
            words.append(
                Word(
                    text=str(t["text"]),
                    confidence=float(t.get("confidence", 0.0)),
                    box=box,
                    prepared_box=upright_box(box, rotation, (width, height)),
                    block=block,
                    line=int(t.get("line", 0)),
                    word=int(t.get("word", 0)),
                    rotation=rotation,
                )
            )
    return words


def _shape(text: str) -> dict[str, float | str]:
    core = text.strip(EDGE_PUNCTUATION)
    n = max(len(core), 1)
    digits = sum(c.isdigit() for c in core)
    letters = sum(c.isalpha() for c in core)
    mac, _ = read_mac(core)
    gtin_digits = repair_digits(core.replace(" ", "").replace("-", ""))
    return {
        "length": float(len(core)),
        "digits": digits / n,
        "letters": letters / n,
        "upper": sum(c.isupper() for c in core) / n,
        "lower": sum(c.islower() for c in core) / n,
        "other_chars": (n - digits - letters) / n,
        "colons": float(core.count(":")),
        "dashes": float(core.count("-")),
        "hash": float("#" in core),
        "slash": float("/" in core),
        "ends_colon": float(text.endswith(":")),
        "is_key": float(is_key_word(text)),
        "mac": float(mac is not None),
        "gtin_length": float(gtin_digits.isdigit() and gtin_type(gtin_digits) is not None),
        "gtin_valid": float(gtin_valid(gtin_digits)),
        "kind": "".join(sorted({"9" if c.isdigit() else "A" if c.isalpha() else "." for c in core})),
    }


def _vendor_fits(text: str, vendor: VendorProfile | None) -> dict[str, float]:
    core = text.strip(EDGE_PUNCTUATION).upper()
    out = {}
    for field in ("serial", "part_number"):
        fmt = vendor.fields.get(field) if vendor else None
        out[f"fits_{field}"] = float(bool(fmt and fmt.pattern and fmt.pattern.fullmatch(core)))
    return out


def read_features(words: list[Word], vendor: VendorProfile | None) -> list[dict[str, float | str]]:
    """One feature dict per word, in the order of `words`."""
    table = KeyTable(vendor)
    index = {id(w): i for i, w in enumerate(words)}
    feats: list[dict[str, float | str]] = [{} for _ in words]
    heights = [max(1, w.prepared_box[3] - w.prepared_box[1]) for w in words]
    left = min((w.prepared_box[0] for w in words), default=0)
    right = max((w.prepared_box[2] for w in words), default=1)
    top = min((w.prepared_box[1] for w in words), default=0)
    bottom = max((w.prepared_box[3] for w in words), default=1)
    keys_below: dict[int, str] = {}  # word id -> field of the key right above it
    lines = lines_of(words)
    key_at: dict[int, str] = {}
    for line in lines:
        pieces = [Piece(w.text, w) for w in line]
        for j in range(len(pieces)):
            hit = table.match(pieces, j)
            if hit is not None:
                for k in range(j, j + hit[1]):
                    key_at[id(line[k])] = hit[0]
    for n, line in enumerate(lines):
        for w in line:
            if id(w) not in key_at or n + 1 >= len(lines):
                continue
            for below in lines[n + 1]:
                if abs(below.prepared_box[0] - w.prepared_box[0]) < 2 * heights[index[id(w)]]:
                    keys_below.setdefault(id(below), key_at[id(w)])
    for line in lines:
        last_key: tuple[str, int] | None = None  # field, right edge
        for pos, w in enumerate(line):
            i = index[id(w)]
            f: dict[str, float | str] = {**_shape(w.text), **_vendor_fits(w.text, vendor)}
            f["confidence"] = w.confidence
            f["position"] = float(min(pos, 6))
            f["x"] = (w.prepared_box[0] - left) / max(1, right - left)
            f["y"] = (w.prepared_box[1] - top) / max(1, bottom - top)
            f["key_field"] = key_at.get(id(w), "none")
            if last_key is not None:
                f["left_key"] = last_key[0]
                f["left_key_distance"] = min(MAX_DISTANCE, (w.prepared_box[0] - last_key[1]) / heights[i])
            else:
                f["left_key"] = "none"
                f["left_key_distance"] = MAX_DISTANCE
            f["above_key"] = keys_below.get(id(w), "none")
            prev = line[pos - 1] if pos else None
            nxt = line[pos + 1] if pos + 1 < len(line) else None
            f["prev_key"] = key_at.get(id(prev), "none") if prev else "start"
            f["next_key"] = key_at.get(id(nxt), "none") if nxt else "end"
            f["prev_length"] = float(len(prev.text)) if prev else 0.0
            f["next_length"] = float(len(nxt.text)) if nxt else 0.0
            f["line_words"] = float(min(len(line), 8))
            feats[i] = f
            if id(w) in key_at:
                last_key = (key_at[id(w)], w.prepared_box[2])
    return feats
