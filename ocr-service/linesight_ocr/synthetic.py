"""Synthetic product labels with known contents, drawn with PIL and zxing-cpp: test data for the
service's tests, the accuracy benchmark (bench/ocr.py) and the token classifier's generated reads."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import zxingcpp
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from linesight_core.label_codes import gtin_check_digit

FONT_DIR = "/usr/share/fonts/truetype/dejavu/"
FONTS = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSansCondensed.ttf",
)
# Fonts the corpus never uses, to measure how the reader does on type it was not tuned on (bench/ocr.py
# --fonts held-out; apt-get install fonts-liberation fonts-freefont-ttf).
HELD_OUT_FONTS = (
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
)
ALNUM = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
VENDORS = {
    "lenovo": (
        "LENOVO",
        "ThinkPad T14 Gen 3",
        "S/N",
        "P/N",
        lambda r: _rand(r, ALNUM, 8),
        lambda r: _rand(r, ALNUM, 10),
    ),
    "hp": (
        "HP EliteBook",
        "EliteBook 840 G8",
        "S/N",
        "P/N",
        lambda r: _rand(r, ALNUM, 10),
        lambda r: _rand(r, ALNUM, 6) + "#" + _rand(r, ALNUM, 3),
    ),
    "dell": (
        "DELL Latitude",
        "Latitude 5420",
        "Service Tag",
        "DP/N",
        lambda r: _rand(r, ALNUM, 7),
        lambda r: "0" + _rand(r, ALNUM, 5),
    ),
    "ubiquiti": (
        "UBIQUITI UniFi",
        "U6-Pro",
        "S/N",
        "P/N",
        lambda r: _rand(r, "0123456789ABCDEF", 12),
        lambda r: f"{r.randint(100, 999)}-{r.randint(10000, 99999)}-{r.randint(10, 99)}",
    ),
}


def _rand(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def ean13(rng: random.Random, valid: bool = True) -> str:
    body = "".join(str(rng.randint(0, 9)) for _ in range(12))
    check = gtin_check_digit(body)
    return body + str(check if valid else (check + 1) % 10)


@dataclass
class LabelSpec:
    vendor: str
    serial: str
    part_number: str
    mac: str
    ean13: str
    model: str
    font: str = FONTS[0]
    font_px: int = 26
    barcode: bool = True
    expected: dict[str, str] = field(default_factory=dict)  # code type -> value a perfect reader returns


def random_spec(rng: random.Random, vendor: str | None = None, valid_ean: bool = True) -> LabelSpec:
    vendor = vendor or rng.choice(sorted(VENDORS))
    _, model, _, _, serial, part = VENDORS[vendor]
    mac = ":".join(f"{rng.randint(0, 255):02X}" for _ in range(6))
    spec = LabelSpec(vendor, serial(rng), part(rng), mac, ean13(rng, valid_ean), model)
    spec.expected = {"serial": spec.serial, "part_number": spec.part_number, "mac": mac, "ean13": spec.ean13}
    return spec


def render(spec: LabelSpec) -> Image.Image:
    """A white label: vendor line, model, serial, part number, MAC, EAN digits; barcodes on the right."""
    brand, _, serial_key, part_key, _, _ = VENDORS[spec.vendor]
    size = spec.font_px
    font = ImageFont.truetype(spec.font if spec.font.startswith("/") else FONT_DIR + spec.font, size)
    bold = ImageFont.truetype(FONT_DIR + "DejaVuSans-Bold.ttf", round(size * 1.2))
    lines = [
        (brand, bold),
        (f"Model: {spec.model}", font),
        (f"{serial_key}: {spec.serial}", font),
        (f"{part_key}: {spec.part_number}", font),
        (f"MAC: {spec.mac}", font),
        (f"EAN: {spec.ean13}", font),
    ]
    text_width = max(round(font.getlength(t)) for t, _ in lines)
    symbols = []
    if spec.barcode:
        for text, fmt in (
            (spec.ean13, zxingcpp.BarcodeFormat.EAN13),
            (spec.serial, zxingcpp.BarcodeFormat.Code128),
        ):
            try:
                symbol = zxingcpp.create_barcode(text, fmt)
            except ValueError:  # an EAN with a wrong check digit cannot be drawn: the text alone carries it
                continue
            symbols.append(Image.fromarray(np.array(zxingcpp.write_barcode_to_image(symbol, scale=2))))
    barcode_width = max((b.width for b in symbols), default=0) + 20
    width = 40 + text_width + 40 + barcode_width
    height = 30 + len(lines) * round(size * 1.8) + 20
    img = Image.new("L", (width, max(height, 300 if spec.barcode else 0)), 255)
    draw = ImageDraw.Draw(img)
    y = 25
    for text, f in lines:
        draw.text((30, y), text, font=f, fill=0)
        y += round(size * 1.8)
    by = 25
    for bars in symbols:
        img.paste(bars, (40 + text_width + 40, by))
        by += bars.height + 20
    return img


def degrade(
    img: Image.Image, rng: random.Random, *, blur: float = 0.0, noise: float = 0.0, perspective: float = 0.0
) -> Image.Image:
    """Photo-like faults: Gaussian blur (px), Gaussian noise (grey levels), a corner pull (share of size)."""
    if perspective:
        w, h = img.size
        d = perspective * min(w, h)
        quad = [
            rng.uniform(0, d),
            rng.uniform(0, d),
            rng.uniform(0, d),
            h - rng.uniform(0, d),
            w - rng.uniform(0, d),
            h - rng.uniform(0, d),
            w - rng.uniform(0, d),
            rng.uniform(0, d),
        ]
        img = img.transform(img.size, Image.Transform.QUAD, quad, Image.Resampling.BICUBIC, fillcolor=255)
    if blur:
        img = img.filter(ImageFilter.GaussianBlur(blur))
    if noise:
        arr = np.asarray(img, dtype=np.float32)
        arr += np.random.default_rng(rng.randint(0, 2**31)).normal(0, noise, arr.shape)
        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    return img


def corpus_label(
    rng: random.Random, fonts: Sequence[str] = FONTS
) -> tuple[LabelSpec, Image.Image, dict[str, object]]:
    """One label of the benchmark corpus: any vendor, font and size, with or without barcodes, a tenth
    with a wrong EAN check digit, blur, noise, perspective and a turn by 0, 90, 180 or 270 degrees.
    `fonts`: names in FONT_DIR or absolute paths."""
    spec = random_spec(rng, valid_ean=rng.random() > 0.1)
    spec.font = rng.choice(fonts)
    spec.font_px = rng.choice((16, 20, 26, 32))
    spec.barcode = rng.random() < 0.6
    image = degrade(
        render(spec),
        rng,
        blur=rng.choice((0, 0, 0.6, 1.0)),
        noise=rng.choice((0, 0, 8, 15)),
        perspective=rng.choice((0, 0, 0.03, 0.06)),
    )
    rotation = rng.choice((0, 90, 180, 270))
    faults = {"rotation": rotation, "font_px": spec.font_px, "barcode": spec.barcode}
    return spec, image.rotate(-rotation, expand=True, fillcolor=255).convert("RGB"), faults
