"""Cheap statistics of one photo (brightness, contrast, sharpness, colour, alignment with the
station's reference photo): what the unusual-photo check compares with the station's recent photos."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageOps

# Statistics are taken on a fixed-width copy, so a 12 MP camera and a 320 px test photo are measured
# on the same scale (sharpness in particular depends on the resolution).
WORK_WIDTH = 320
VIEW = (160, 120)  # the comparison with the reference photo keeps the bench's texture (grain, edges)
BLOCKS = 4  # the view is compared block by block, 4 × 4
# The copy a JPEG is decoded to for the statistics (DCT-domain reduction, see stats_fit): at least twice
# the work width, so the shrink to it still averages over several pixels as it does from a full decode.
DECODE_WIDTH = 2 * WORK_WIDTH
ORIENTATION = 0x0112  # the EXIF tag


def _upright(img: Image.Image) -> Image.Image:
    """The photo as it is meant to be seen. Only a rotated photo is copied: on a 12 MP photo the copy
    that exif_transpose makes of an upright one costs more than the statistics themselves."""
    if img.getexif().get(ORIENTATION, 1) == 1:
        return img
    return ImageOps.exif_transpose(img) or img


def stats_fit(width: int, height: int) -> tuple[int, int]:
    """The size (w, h) the statistics need of an upright `width` x `height` photo: what decode_image's
    `fit` takes, so a large JPEG is decoded reduced (a 12 MP photo at 1/4, 1008 x 756) instead of in full."""
    scale = DECODE_WIDTH / width
    return min(width, DECODE_WIDTH), min(height, max(round(height * scale), 2 * VIEW[1]))


def photo_stats(
    img: Image.Image, reference: np.ndarray | None = None, *, size: tuple[int, int] | None = None
) -> dict[str, Any]:
    """The photo's statistics; with the station's reference view, how well it lines up with it.
    `img` may be a reduced copy of the photo (see stats_fit); `size` is then the photo's own (w, h),
    for its aspect ratio."""
    upright = _upright(img)
    rgb = upright if upright.mode == "RGB" else upright.convert("RGB")
    w, h = rgb.size
    aw, ah = size or (w, h)
    work = rgb.resize((WORK_WIDTH, max(1, round(h * WORK_WIDTH / w))), Image.Resampling.BILINEAR)
    arr = np.asarray(work, dtype=np.float32)
    gray = cv2.cvtColor(arr, cv2.COLOR_RGB2GRAY)
    # The channels apart (contiguous): a sum over the last axis of 3 costs more than all the rest.
    red, green, blue = cv2.split(arr)
    total = red + green + blue + 1e-6
    stats: dict[str, Any] = {
        "brightness": round(float(gray.mean()), 2),
        "contrast": round(float(gray.std()), 2),
        "sharpness": round(float(cv2.Laplacian(gray * _gain(gray), cv2.CV_32F).var()), 2),
        # Chromaticity (share of red and green in the light) tells a wooden bench from a street.
        "red_share": round(float((red / total).mean()), 4),
        "green_share": round(float((green / total).mean()), 4),
        "aspect": round(aw / ah, 3),
    }
    if reference is not None:
        stats["reference_similarity"] = reference_similarity(view(upright), reference)
    return stats


def _gain(gray: np.ndarray) -> float:
    """Sharpness is measured as if the photo's mean brightness were mid-grey: the variance of the
    Laplacian grows with the square of the light, and a dim photo is not a blurred one."""
    return 128.0 / max(float(gray.mean()), 1.0)


def view(img: Image.Image) -> np.ndarray:
    """The grayscale copy a photo is compared with the station's reference photo on."""
    return np.asarray(_upright(img).convert("L").resize(VIEW, Image.Resampling.BOX), dtype=np.float32)


def reference_similarity(photo: np.ndarray, reference: np.ndarray) -> float:
    """How well the photo lines up with the reference photo: the median of the blocks' normalised
    cross-correlations. Items taken away or added change a few blocks; a moved camera or another scene
    changes them all, so the median stays high for the former and drops for the latter."""
    if photo.shape != reference.shape:
        return 0.0
    h, w = photo.shape
    bh, bw = h // BLOCKS, w // BLOCKS
    scores = []
    for by in range(BLOCKS):
        for bx in range(BLOCKS):
            a = photo[by * bh : (by + 1) * bh, bx * bw : (bx + 1) * bw].astype(np.float64)
            b = reference[by * bh : (by + 1) * bh, bx * bw : (bx + 1) * bw].astype(np.float64)
            a -= a.mean()
            b -= b.mean()
            denom = float(np.sqrt((a * a).sum() * (b * b).sum()))
            scores.append(float((a * b).sum() / denom) if denom > 1e-6 else 0.0)
    return round(float(np.median(scores)), 4)
