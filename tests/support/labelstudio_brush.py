"""Label Studio brush layers for tests: a mask encoded the way Label Studio exports a brush result (the
RGBA pixels, 4 values a pixel, packed with thi.ng's rle-pack run-length format)."""

from __future__ import annotations

import numpy as np

WORD_BITS = 8
RUN_BITS = (3, 4, 8, 16)  # the four run-length sizes the header announces


def _runs(values: np.ndarray) -> list[tuple[int, int]]:
    """(value, length) of each run of equal values."""
    edges = np.flatnonzero(np.diff(values)) + 1
    starts = np.concatenate([[0], edges])
    lengths = np.diff(np.concatenate([starts, [len(values)]]))
    return list(zip(values[starts].tolist(), lengths.tolist(), strict=True))


def _size_class(count: int) -> int:
    return next(k for k, b in enumerate(RUN_BITS) if count - 1 < 1 << b)


def encode_rle(values: np.ndarray) -> list[int]:
    """Bytes of the rle-pack stream: header (count, word size, run sizes), then a repeat run for each
    value seen more than once in a row, and the single values between them as literal chunks."""
    out = [f"{len(values):032b}", f"{WORD_BITS - 1:05b}", *(f"{b - 1:04b}" for b in RUN_BITS)]
    singles: list[int] = []

    def flush() -> None:
        while singles:
            chunk, singles[:] = singles[: 1 << RUN_BITS[-1]], singles[1 << RUN_BITS[-1] :]
            size = _size_class(len(chunk))
            out.append(f"0{size:02b}{len(chunk) - 1:0{RUN_BITS[size]}b}")
            out.extend(f"{v:08b}" for v in chunk)

    for value, length in _runs(values):
        if length == 1:
            singles.append(value)
            continue
        flush()
        while length:
            take = min(length, 1 << RUN_BITS[-1])
            size = _size_class(take)
            out.append(f"1{size:02b}{take - 1:0{RUN_BITS[size]}b}{value:08b}")
            length -= take
    flush()
    bits = "".join(out)
    bits += "0" * (-len(bits) % 8)
    return [int(bits[k : k + 8], 2) for k in range(0, len(bits), 8)]


def brush_rle(
    mask: np.ndarray, colour: tuple[int, int, int] = (0, 0, 0), paper: tuple[int, int, int] = (255, 255, 255)
) -> list[int]:
    """A (height, width) mask as a brush layer: alpha 255 inside, 0 outside. The colours inside and
    outside are the reverse of the alpha by default, so reading any channel but alpha gives another mask."""
    rgba = np.empty((*mask.shape, 4), dtype=np.uint8)
    rgba[...] = (*paper, 0)
    rgba[mask > 0] = (*colour, 255)
    return encode_rle(rgba.ravel())


def brush_result(mask: np.ndarray, label: str, size: tuple[int, int] | None = None) -> dict:
    """One `brushlabels` result of a Label Studio JSON export; `size` overrides the declared image size."""
    height, width = mask.shape
    w, h = size or (width, height)
    return {
        "type": "brushlabels",
        "from_name": "tag",
        "to_name": "image",
        "original_width": w,
        "original_height": h,
        "image_rotation": 0,
        "value": {"format": "rle", "rle": brush_rle(mask), "brushlabels": [label]},
    }
