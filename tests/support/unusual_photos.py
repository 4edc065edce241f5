"""A tool-bench station's photos for the unusual-photo check: the same bench (one scene seed) with a
varying set of tools and the light and focus a real camera varies, and the unusual ones: dark, blurred,
shifted, and a photo of something else (Ultralytics' bundled bus.jpg)."""

from __future__ import annotations

import random
from pathlib import Path

import ultralytics
from PIL import Image, ImageEnhance, ImageFilter

from tests.support.synthetic import draw_scene

BUS = Path(ultralytics.__file__).parent / "assets" / "bus.jpg"
# Thresholds were set looking at stations 0-9 only; reported figures use the held-out ones.
TUNING_STATIONS = range(0, 10)
HELD_OUT_STATIONS = range(100, 110)


def reference(station: int) -> Image.Image:
    """The station's reference photo: the bench with every tool in place."""
    return draw_scene(random.Random(station), present=[0, 1, 2])[0]


def normal(station: int, n: int) -> Image.Image:
    """Photo `n` at the station: the same bench, some tools missing now and then, light within ±12 %."""
    rng = random.Random(station * 100_003 + n)
    present = [c for c in range(3) if rng.random() < 0.85]
    img = draw_scene(random.Random(station), present=present)[0]
    img = ImageEnhance.Brightness(img).enhance(rng.uniform(0.88, 1.12))
    return img.filter(ImageFilter.GaussianBlur(radius=rng.uniform(0, 0.6)))


def dark(station: int, n: int) -> Image.Image:
    return ImageEnhance.Brightness(normal(station, n)).enhance(0.2)


def blurred(station: int, n: int) -> Image.Image:
    return normal(station, n).filter(ImageFilter.GaussianBlur(radius=6))


def shifted(station: int, n: int) -> Image.Image:
    """The camera knocked: a third of the view gone to one side, the rest enlarged to the same size."""
    img = normal(station, n)
    w, h = img.size
    return img.crop((w // 3, 0, w, h * 3 // 4)).resize((w, h))


def elsewhere() -> Image.Image:
    with Image.open(BUS) as img:
        return img.convert("RGB")
