"""Find the people to blur in a photo with the gateway's person detector: a registry detect model
(LINESIGHT_PEOPLE_DETECTOR_MODEL) served by the inference service."""

from __future__ import annotations

import math
from dataclasses import dataclass

from linesight_core.clients.errors import UpstreamError
from linesight_core.clients.inference import InferenceClient
from linesight_core.contracts.inference import PredictParams
from linesight_core.errors import Unavailable
from linesight_gateway.domain.privacy import Region


@dataclass(frozen=True)
class PeopleDetector:
    """The person detector as the settings name it (LINESIGHT_PEOPLE_DETECTOR_*); `model` None: none."""

    model: str | None
    alias: str
    label: str
    confidence: float
    timeout: float


async def people_in(inference: InferenceClient, detector: PeopleDetector, photo: bytes) -> list[Region]:
    """Boxes of the people in `photo`, in its pixels. Fails closed: if the detector cannot answer, the
    photo is refused (503) rather than stored with people in it."""
    if detector.model is None:
        # a station saved with blur_people, then the gateway restarted without a detector
        raise Unavailable(
            "This station blurs people, but the gateway has no person detector "
            "(LINESIGHT_PEOPLE_DETECTOR_MODEL); the photo was not stored.",
        )
    params = PredictParams(model=detector.model, alias=detector.alias, conf=detector.confidence, max_det=1000)
    try:
        prediction = await inference.predict(
            ("image", photo, "application/octet-stream"), params, timeout=detector.timeout
        )
    except UpstreamError as exc:
        raise Unavailable(
            f"The person detector ({detector.model}) did not answer ({exc.status}), so "
            "people could not be blurred; the photo was not stored. Try again.",
        ) from None
    return [
        (math.floor(d.box.x1), math.floor(d.box.y1), math.ceil(d.box.x2), math.ceil(d.box.y2))
        for d in prediction.detections or []
        if d.label == detector.label and d.confidence >= detector.confidence
    ]
