"""The image size a YOLO model runs at (its `imgsz`): what Ultralytics allows and what a server can afford.

Both the registry (on upload) and inference (before it warms a stored model up) check it: the size comes
from metadata the uploader wrote, and inference allocates a blank batch of that size at warm-up."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeGuard

# 2048 px a side is well above any Ultralytics export used for inspection (640 is the default, 1280 the
# large-model size) while one float32 input at that size stays at 48 MiB.
DEFAULT_MAX_IMGSZ = 2048
# Ultralytics trains and exports detect and segment models at multiples of the largest stride (32, or
# 64 for P6 models); classify models have stride 1.
DETECT_STRIDE = 32
STRIDED_TASKS = ("detect", "segment")


class ImageSizeError(ValueError):
    """The model's image size is unusable; the message says why and what is accepted."""


def parse_imgsz(raw: object) -> tuple[int, int]:
    """`640` or `[height, width]` as Ultralytics writes it → (height, width). Anything else is refused."""
    if _is_int(raw):
        raw = [raw, raw]
    if not (isinstance(raw, list | tuple) and len(raw) == 2 and all(_is_int(x) for x in raw)):
        shown = repr(raw)[:80]
        raise ImageSizeError(
            f"The image size (imgsz) must be a whole number or [height, width] of whole numbers; it is {shown}."
        )
    return int(raw[0]), int(raw[1])


def check_imgsz(
    imgsz: Sequence[int],
    input_shape: Sequence[object],
    *,
    task: str,
    max_side: int,
    stride: int | None = None,
) -> None:
    """Raises ImageSizeError unless `imgsz` (height, width) is positive, at most `max_side` a side, a
    multiple of the stride Ultralytics requires, and equal to the input's height and width where those are
    fixed (an NCHW `input_shape` whose dimensions are ints, or names/None when dynamic)."""
    if len(imgsz) != 2 or not all(_is_int(x) for x in imgsz):
        raise ImageSizeError(f"The image size (imgsz) must be [height, width]; it is {list(imgsz)!r}.")
    h, w = int(imgsz[0]), int(imgsz[1])
    if h < 1 or w < 1:
        raise ImageSizeError(f"The image size (imgsz) must be positive; it is [{h}, {w}].")
    if h > max_side or w > max_side:
        raise ImageSizeError(
            f"The image size (imgsz) [{h}, {w}] is over the limit of {max_side} pixels a side "
            "(LINESIGHT_MAX_MODEL_IMGSZ)."
        )
    multiple = max(DETECT_STRIDE, stride or 0) if task in STRIDED_TASKS else max(stride or 1, 1)
    if h % multiple or w % multiple:
        raise ImageSizeError(
            f"The image size (imgsz) [{h}, {w}] of a {task} model must be a multiple of its stride {multiple}, "
            "as Ultralytics exports it."
        )
    if len(input_shape) == 4:
        fixed = [d if _is_int(d) and d > 0 else None for d in input_shape[2:]]
        for side, claimed, actual in (("height", h, fixed[0]), ("width", w, fixed[1])):
            if actual is not None and actual != claimed:
                raise ImageSizeError(
                    f"The image size (imgsz) [{h}, {w}] does not match the model's fixed input "
                    f"{side} {actual} (input shape {list(input_shape)})."
                )


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)
