"""Ultralytics' two bundled photos with the faces a person would recognise in them, boxed by eye."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import ultralytics

Box = tuple[int, int, int, int]  # x1, y1, x2, y2 in pixels

ASSETS = Path(ultralytics.__file__).parent / "assets"


@dataclass(frozen=True)
class FacePhoto:
    name: str
    # brows to chin, ear to ear: what must be unrecognisable after blurring
    faces: tuple[Box, ...]
    # places with no one in them: blurring must leave them as they were
    empty: tuple[Box, ...]
    note: str = ""

    @property
    def path(self) -> Path:
        return ASSETS / self.name


PHOTOS = (
    FacePhoto(
        "zidane.jpg",
        # Zidane shouting in three-quarter profile (the cascade misses him), Ancelotti frontal
        faces=((560, 260, 665, 440), (900, 100, 1070, 280)),
        empty=((20, 40, 260, 200), (180, 560, 420, 700)),
    ),
    FacePhoto(
        "bus.jpg",
        # the two men in sunglasses; the walker cut by the right edge shows an ear and a sliver of
        # cheek, and the person at the left edge no face at all: not counted
        faces=((112, 412, 158, 474), (266, 420, 310, 476)),
        empty=((300, 30, 440, 90), (300, 880, 620, 1060)),
        note="+1 face cut by the edge, not recognisable",
    ),
)
