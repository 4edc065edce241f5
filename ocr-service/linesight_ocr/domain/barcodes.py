"""The barcode decoder (zxing-cpp): which formats it reads, and a self-test on a barcode it draws itself."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import version

import numpy as np
import zxingcpp

# Shapes common on production labels: a linear code and a matrix code.
SELF_TEST_CODES = (
    ("LINESIGHT-0001", zxingcpp.BarcodeFormat.Code128),
    ("LINESIGHT-0001", zxingcpp.BarcodeFormat.DataMatrix),
)


class BarcodeDecoderBroken(RuntimeError):
    """The decoder did not read back a barcode it had just drawn."""


@dataclass(frozen=True)
class SelfTestImage:
    text: str
    format: zxingcpp.BarcodeFormat
    pixels: np.ndarray


def decoder_version() -> str:
    return version("zxing-cpp")


def readable_formats() -> list[str]:
    """Names as zxingcpp.barcode_format_from_str accepts them ("Code128", "EAN13", "QRCode", ...)."""
    readable = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.AllReadable)
    return [f.name for f in zxingcpp.barcode_formats_list(readable)]


def draw_self_test_images() -> list[SelfTestImage]:
    images = []
    for text, fmt in SELF_TEST_CODES:
        barcode = zxingcpp.create_barcode(text, fmt)
        pixels = np.array(zxingcpp.write_barcode_to_image(barcode, scale=2))
        images.append(SelfTestImage(text, fmt, pixels))
    return images


def check_decoder(images: list[SelfTestImage]) -> None:
    """Readiness probe: every self-test image decodes to the text it was drawn from."""
    for image in images:
        found = zxingcpp.read_barcodes(image.pixels, formats=zxingcpp.BarcodeFormats(image.format))
        if not any(b.valid and b.text == image.text for b in found):
            raise BarcodeDecoderBroken(
                f"zxing-cpp {decoder_version()} did not read back its own {image.format.name} barcode"
            )
