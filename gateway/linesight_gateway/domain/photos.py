"""Where the gateway keeps the photos it is sent, and what a photo may be (both from the settings)."""

from __future__ import annotations

from dataclasses import dataclass

from linesight_core.storage import ObjectStore


@dataclass(frozen=True)
class PhotoStore:
    """The object store and its images bucket: inspection, label and reference photos."""

    store: ObjectStore
    bucket: str


@dataclass(frozen=True)
class PhotoLimits:
    """The byte and pixel limits every photo is checked against before anything else is done with it."""

    max_bytes: int
    max_pixels: int
