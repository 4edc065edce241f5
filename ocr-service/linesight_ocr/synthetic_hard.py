"""A harder generated label corpus with a tuning set and a held-out set (bench/ocr.py --set).

The two sets share nothing but the kind of label: different fonts, different layouts, different vendor
name lines and different random streams. Tune on `tuning`; report `held-out`, which no rule of the reader
was written against. Fonts: Debian's fonts-dejavu-core, fonts-liberation, fonts-freefont-ttf (tuning),
fonts-ocr-b and fonts-urw-base35 (held-out); `missing_fonts()` names what is not installed.

Faults drawn per label: a perspective pull, a small tilt on top of a turn by 0/90/180/270 degrees,
blur, glare (a bright blotch), low resolution (drawn small and scaled back up), Gaussian noise and JPEG
compression. Barcodes: EAN-13 of the GTIN, Code 128 or Code 39 of the serial and of the part number."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import zxingcpp
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from linesight_ocr.synthetic import ALNUM, VENDORS, LabelSpec, degrade, ean13

SETS = ("tuning", "held-out")
TUNING_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSansNarrow-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
)
HELD_OUT_FONTS = (
    "/usr/share/fonts/opentype/ocr-b/OCRB.otf",
    "/usr/share/fonts/opentype/urw-base35/NimbusSans-Regular.otf",  # Helvetica metrics
    "/usr/share/fonts/opentype/urw-base35/NimbusSans-Bold.otf",
    "/usr/share/fonts/opentype/urw-base35/NimbusSansNarrow-Regular.otf",  # narrow
    "/usr/share/fonts/opentype/urw-base35/NimbusSansNarrow-Bold.otf",
    "/usr/share/fonts/opentype/urw-base35/NimbusMonoPS-Regular.otf",
    "/usr/share/fonts/opentype/urw-base35/URWGothic-Book.otf",
)
FONT_PACKAGES = "fonts-dejavu-core fonts-liberation fonts-freefont-ttf fonts-ocr-b fonts-urw-base35"
# Name lines per vendor: the tuning set prints the brand, the held-out set often only a product line.
BRAND_LINES = {
    "tuning": {
        "lenovo": ("LENOVO", "Lenovo ThinkPad"),
        "hp": ("HP EliteBook", "HP"),
        "dell": ("DELL Latitude", "DELL"),
        "ubiquiti": ("UBIQUITI UniFi", "UBIQUITI"),
    },
    "held-out": {
        "lenovo": ("ThinkPad", "Lenovo", "ThinkCentre M70q"),
        "hp": ("HP ProBook 450 G9", "Hewlett-Packard", "HP ZBook"),
        "dell": ("Dell Inc.", "OptiPlex 7090", "Dell Precision"),
        "ubiquiti": ("UniFi", "Ubiquiti Inc.", "UniFi AP"),
    },
}
LAYOUTS = {"tuning": ("stacked", "below"), "held-out": ("columns", "grid", "compact")}
# Seeds of the two sets never meet: the held-out stream is offset far past any tuning seed.
SEED_OFFSET = {"tuning": 0, "held-out": 1_000_003}
CODE39 = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-. $/+%")


@dataclass
class HardLabel:
    spec: LabelSpec
    image: Image.Image
    faults: dict[str, object] = field(default_factory=dict)


def missing_fonts(which: str) -> list[str]:
    fonts = TUNING_FONTS if which == "tuning" else HELD_OUT_FONTS
    return [f for f in fonts if not Path(f).is_file()]


def express_service_code(tag: str) -> str:
    """Dell's Express Service Code: the Service Tag read as a base-36 number, in decimal."""
    return str(int(tag, 36))


def _symbol(text: str, rng: random.Random) -> tuple[Image.Image, str] | None:
    """A Code 39 (when the text allows and the draw says so) or Code 128 barcode of `text`."""
    fmt = (
        zxingcpp.BarcodeFormat.Code39
        if set(text) <= CODE39 and rng.random() < 0.4
        else zxingcpp.BarcodeFormat.Code128
    )
    try:
        symbol = zxingcpp.create_barcode(text, fmt)
    except ValueError:
        return None
    bars = Image.fromarray(np.array(zxingcpp.write_barcode_to_image(symbol, scale=2)))
    return bars.resize((bars.width, 48)), fmt.name


def _fields(spec: LabelSpec, rng: random.Random) -> list[tuple[str, str]]:
    _, _, serial_key, part_key, _, _ = VENDORS[spec.vendor]
    fields = [
        ("Model", spec.model),
        (serial_key, spec.serial),
        (part_key, spec.part_number),
        ("MAC", spec.mac),
        (rng.choice(("EAN", "EAN", "UPC/EAN")) if spec.vendor != "dell" else "EAN", spec.ean13),
    ]
    if spec.vendor == "dell" and rng.random() < 0.7:
        fields.insert(2, ("Express Service Code", express_service_code(spec.serial)))
    return fields


def _layout_lines(layout: str, fields: list[tuple[str, str]]) -> list[list[tuple[str, bool]]]:
    """Rows of the label, each a list of (text, starts a new column) cells."""
    if layout == "stacked":
        return [[(f"{k}: {v}", True)] for k, v in fields]
    if layout == "below":  # the key on its line, the value under it
        rows: list[list[tuple[str, bool]]] = []
        for k, v in fields:
            rows += [[(f"{k}:", True)], [(v, True)]]
        return rows
    if layout == "columns":  # keys in one column, values aligned in the next
        return [[(f"{k}:", True), (v, True)] for k, v in fields]
    if layout == "grid":  # two fields side by side
        cells = [(f"{k}: {v}", True) for k, v in fields]
        return [cells[i : i + 2] for i in range(0, len(cells), 2)]
    return [[(f"{k} {v}", True)] for k, v in fields]  # compact: no colon


def render_hard(spec: LabelSpec, brand: str, layout: str, rng: random.Random) -> Image.Image:
    size = spec.font_px
    font = ImageFont.truetype(spec.font, size)
    bold = ImageFont.truetype(spec.font, round(size * 1.25))
    rows = _layout_lines(layout, _fields(spec, rng))
    gap = round(size * rng.uniform(1.45, 1.9))
    col_gap = round(size * 1.2)
    # column widths from the widest cell of each column
    widths = [0] * max(len(row) for row in rows)
    for row in rows:
        for i, (text, _) in enumerate(row):
            widths[i] = max(widths[i], round(font.getlength(text)))
    text_width = max(sum(widths) + col_gap * (len(widths) - 1), round(bold.getlength(brand)))
    symbols = []
    if spec.barcode:
        try:
            ean = zxingcpp.create_barcode(spec.ean13, zxingcpp.BarcodeFormat.EAN13)
            symbols.append(Image.fromarray(np.array(zxingcpp.write_barcode_to_image(ean, scale=2))))
        except ValueError:  # a wrong check digit cannot be drawn
            pass
        for value in (spec.serial, spec.part_number):
            drawn = _symbol(value, rng) if rng.random() < 0.8 else None
            if drawn is not None:
                symbols.append(drawn[0])
    barcode_width = max((b.width for b in symbols), default=0)
    side = rng.random() < 0.5 and bool(symbols)  # barcodes right of the text, else under it
    width = 60 + text_width + (40 + barcode_width if side else 0)
    if not side:
        width = max(width, 60 + barcode_width)
    text_height = 30 + gap * (len(rows) + 1)
    bars_height = sum(b.height + 16 for b in symbols)
    height = max(text_height, bars_height + 40) if side else text_height + bars_height + 20
    paper = rng.randint(225, 255)
    ink = rng.randint(0, 50)
    img = Image.new("L", (width, height), paper)
    draw = ImageDraw.Draw(img)
    draw.text((30, 20), brand, font=bold, fill=ink)
    y = 20 + gap + round(size * 0.3)
    for row in rows:
        x = 30
        for i, (text, _) in enumerate(row):
            draw.text((x, y), text, font=font, fill=ink)
            x += widths[i] + col_gap
        y += gap
    bx, by = (60 + text_width, 25) if side else (30, text_height)
    for bars in symbols:
        img.paste(bars, (bx, by))
        by += bars.height + 16
    return img


def _glare(img: Image.Image, rng: random.Random, strength: float) -> Image.Image:
    w, h = img.size
    cx, cy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h
    r = rng.uniform(0.15, 0.35) * max(w, h)
    yy, xx = np.mgrid[0:h, 0:w]
    blot = np.exp(-(((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))) * strength
    arr = np.asarray(img, dtype=np.float32)
    arr = arr + (255 - arr) * blot
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def _jpeg(img: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def hard_label(rng: random.Random, which: str = "held-out") -> HardLabel:
    """One label of the `which` set ("tuning" or "held-out"); `rng` decides everything."""
    fonts = TUNING_FONTS if which == "tuning" else HELD_OUT_FONTS
    vendor = rng.choice(sorted(VENDORS))
    _, model, _, _, serial, part = VENDORS[vendor]
    mac = ":".join(f"{rng.randint(0, 255):02X}" for _ in range(6))
    spec = LabelSpec(vendor, serial(rng), part(rng), mac, ean13(rng, rng.random() > 0.05), model)
    spec.expected = {"serial": spec.serial, "part_number": spec.part_number, "mac": mac, "ean13": spec.ean13}
    spec.font = rng.choice(fonts)
    spec.font_px = rng.choice((18, 22, 26, 32))
    spec.barcode = rng.random() < 0.7
    brand = rng.choice(BRAND_LINES[which][vendor])
    layout = rng.choice(LAYOUTS[which])
    image = render_hard(spec, brand, layout, rng)
    faults: dict[str, object] = {"layout": layout, "font": Path(spec.font).stem, "brand": brand}
    low_res = rng.random() < 0.2
    if low_res:  # drawn small, scaled back up: soft, blocky strokes
        factor = rng.uniform(0.45, 0.65)
        w, h = image.size
        image = image.resize((round(w * factor), round(h * factor)), Image.Resampling.BILINEAR)
        image = image.resize((w, h), Image.Resampling.BILINEAR)
    blur = rng.choice((0, 0, 0.5, 0.9))
    noise = rng.choice((0, 4, 8, 12))
    perspective = rng.choice((0, 0.02, 0.04, 0.06))
    image = degrade(image, rng, perspective=perspective)
    if rng.random() < 0.3:
        image = _glare(image, rng, rng.uniform(0.35, 0.65))
        faults["glare"] = True
    tilt = rng.uniform(-3, 3) if rng.random() < 0.5 else 0.0
    rotation = rng.choice((0, 0, 90, 180, 270))
    image = image.rotate(-(rotation + tilt), expand=True, fillcolor=255, resample=Image.Resampling.BICUBIC)
    image = degrade(image, rng, blur=blur, noise=noise)
    if blur or rng.random() < 0.5:
        image = image.filter(ImageFilter.SMOOTH) if rng.random() < 0.3 else image
    quality = rng.choice((95, 75, 55, 40))
    image = _jpeg(image, quality)
    faults.update(
        rotation=rotation,
        tilt=round(tilt, 1),
        font_px=spec.font_px,
        barcode=spec.barcode,
        low_res=low_res,
        blur=blur,
        noise=noise,
        perspective=perspective,
        jpeg=quality,
    )
    return HardLabel(spec, image, faults)


def hard_corpus(which: str, count: int, seed: int = 1) -> list[HardLabel]:
    rng = random.Random(SEED_OFFSET[which] + seed)  # noqa: S311 - test data
    return [hard_label(rng, which) for _ in range(count)]


__all__ = ["ALNUM", "SETS", "HardLabel", "express_service_code", "hard_corpus", "hard_label", "missing_fonts"]
