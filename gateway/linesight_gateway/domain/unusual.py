"""The unusual-photo check: a photo's statistics and the model's own signals, compared with what the
station's recent accepted photos look like (robust median / MAD), with its reference photo, and with the
photos the answering model version was trained on."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

UnusualReason = Literal[
    "too_dark",
    "too_bright",
    "low_contrast",
    "blurred",
    "camera_moved",
    "unlike_recent_photos",
    "unlike_training_data",
    "low_model_confidence",
    "unexpected_detection_count",
]
REASONS: tuple[str, ...] = get_args(UnusualReason)  # in the order answers list them
# With fewer recent accepted photos than this, only the fixed bounds below apply: a median of a handful
# of photos says little about a station.
MIN_BASELINE = 10
BASELINE_SIZE = 50
# How many robust standard deviations (1.4826 × MAD) from the station's median count as unusual. Wide on
# purpose: a flag that fires on normal photos teaches people to ignore it.
Z_LIMIT = 5.0
# Fixed bounds, true for any camera: below or above them a photo is unusual whatever the station's
# history (and the only check while it has too little history).
MIN_BRIGHTNESS, MAX_BRIGHTNESS = 35.0, 225.0
MIN_CONTRAST = 2.0
MIN_SHARPNESS = 5.0  # variance of the Laplacian at 320 px width; a photo of a flat wall is about 1
# Median block correlation with the reference photo: the same bench with items missing scores 0.4-1,
# a view moved by a third or another scene about 0 (bench/unusual.py).
MIN_REFERENCE_SIMILARITY = 0.25
# Smallest spread assumed per signal, so a station whose photos are all alike does not flag noise.
MIN_SPREAD = {
    "brightness": 6.0,
    "contrast": 2.0,
    "log_sharpness": 0.35,
    "red_share": 0.015,
    "green_share": 0.015,
    "top_confidence": 0.05,
}


@dataclass(frozen=True)
class Baseline:
    """Median and robust spread of each signal over the station's recent accepted inspections."""

    median: dict[str, float]
    spread: dict[str, float]
    size: int

    def z(self, name: str, value: float | None) -> float:
        if value is None or name not in self.median:
            return 0.0
        return (value - self.median[name]) / self.spread[name]


def signals(photo: dict[str, Any], top_confidences: Sequence[float]) -> dict[str, float]:
    """The per-inspection numbers the baseline is kept on (stored with the inspection)."""
    out = {
        "brightness": float(photo["brightness"]),
        "contrast": float(photo["contrast"]),
        "log_sharpness": math.log1p(float(photo["sharpness"])),
        "red_share": float(photo["red_share"]),
        "green_share": float(photo["green_share"]),
    }
    if top_confidences:
        out["top_confidence"] = float(statistics.median(top_confidences))
    return out


def baseline(history: Sequence[dict[str, float]]) -> Baseline | None:
    if len(history) < MIN_BASELINE:
        return None
    median: dict[str, float] = {}
    spread: dict[str, float] = {}
    for name, floor in MIN_SPREAD.items():
        values = [h[name] for h in history if name in h]
        if len(values) < MIN_BASELINE:
            continue
        med = statistics.median(values)
        mad = statistics.median(abs(v - med) for v in values)
        median[name], spread[name] = med, max(1.4826 * mad, floor)
    return Baseline(median, spread, len(history))


def reasons(
    photo: dict[str, Any],
    top_confidences: Sequence[float],
    *,
    history: Sequence[dict[str, float]] = (),
    expected_count: int | None = None,
    detections: int | None = None,
    low_confidence: float = 0.5,
    training: Baseline | None = None,
) -> list[str]:
    """Why this photo is unlike the station's photos (empty: nothing unusual). `training`: the baseline
    of the model version's training photos (TrainingBaselines), when known."""
    sig = signals(photo, top_confidences)
    base = baseline(history)

    def z(name: str) -> float:
        return base.z(name, sig.get(name)) if base else 0.0

    found: set[str] = set()
    if sig["brightness"] < MIN_BRIGHTNESS or z("brightness") < -Z_LIMIT:
        found.add("too_dark")
    if sig["brightness"] > MAX_BRIGHTNESS or z("brightness") > Z_LIMIT:
        found.add("too_bright")
    # Contrast is compared with the fixed floor only: how many items lie on the bench sets it (an empty
    # bench is a normal NOK with a third of the usual contrast), a flat or fogged photo falls below it.
    if sig["contrast"] < MIN_CONTRAST:
        found.add("low_contrast")
    if photo["sharpness"] < MIN_SHARPNESS or z("log_sharpness") < -Z_LIMIT:
        found.add("blurred")
    score = photo.get("reference_similarity")
    if score is not None and score < MIN_REFERENCE_SIMILARITY:
        found.add("camera_moved")
    # Far more contrast or another colour of light than the station's photos: another scene. (A sharper
    # photo than usual is not: focus varies more upward than a scene's statistics do.)
    if z("contrast") > Z_LIMIT or abs(z("red_share")) > Z_LIMIT or abs(z("green_share")) > Z_LIMIT:
        found.add("unlike_recent_photos")
    if training is not None and unlike_training(sig, training):
        found.add("unlike_training_data")
    if "top_confidence" in sig and (
        z("top_confidence") < -Z_LIMIT or (base is None and sig["top_confidence"] < low_confidence)
    ):
        found.add("low_model_confidence")
    # Missing items are the station's normal NOK; far more detections than items expected is not.
    if expected_count and detections is not None and detections > 2 * expected_count + 2:
        found.add("unexpected_detection_count")
    return [r for r in REASONS if r in found]


def unlike_training(sig: dict[str, float], training: Baseline) -> bool:
    """Light, colour, contrast or focus far from the photos the model learnt from: its answers on such a
    photo are a guess, even when the station's recent photos look the same (they may all have drifted)."""
    z = {name: training.z(name, sig.get(name)) for name in ("brightness", "red_share", "green_share")}
    return (
        any(abs(v) > Z_LIMIT for v in z.values())
        or training.z("contrast", sig.get("contrast")) > Z_LIMIT
        or training.z("log_sharpness", sig.get("log_sharpness")) < -Z_LIMIT
    )
