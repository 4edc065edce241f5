"""The image Tesseract reads is bounded in pixels: small text is scaled up, but never past the cap, and
an upload larger than the cap is scaled down to it."""

import random

from PIL import Image

from linesight_ocr.domain.preprocess import prepare
from linesight_ocr.synthetic import random_spec, render


def pixels(image: Image.Image) -> int:
    return image.width * image.height


def test_upscaling_small_text_stops_at_the_pixel_cap():
    label = render(random_spec(random.Random(4)))
    small = label.resize((label.width // 3, label.height // 3))  # text too small: it gets scaled up
    free = prepare(small, deskew=False)
    assert free.scale > 2
    cap = pixels(small) * 2
    capped = prepare(small, deskew=False, max_pixels=cap)
    assert pixels(capped.image) <= cap < pixels(free.image)
    # boxes still map back onto the upload
    assert capped.to_source(0, 0, *capped.image.size) == (0, 0, small.width, small.height)


def test_an_upload_over_the_cap_is_scaled_down_to_it():
    huge = render(random_spec(random.Random(5))).resize((6000, 3000))
    capped = prepare(huge, deskew=False, max_pixels=4_000_000)
    assert pixels(capped.image) <= 4_000_000
    assert capped.scale < 1
