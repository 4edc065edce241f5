"""Find the people to blur in a photo with the gateway's person detector: a registry detect model
(LINESIGHT_PEOPLE_DETECTOR_MODEL) served by the inference service."""

from __future__ import annotations

import math

from linesight_core.clients.errors import UpstreamError
from linesight_core.clients.inference import InferenceClient
from linesight_core.contracts.inference import PredictParams
from linesight_core.errors import Problem
from linesight_gateway.domain.privacy import Region
from linesight_gateway.settings import GatewaySettings


async def people_in(inference: InferenceClient, settings: GatewaySettings, photo: bytes) -> list[Region]:
    """Boxes of the people in `photo`, in its pixels. Fails closed: if the detector cannot answer, the
    photo is refused (503) rather than stored with people in it."""
    if settings.people_detector_model is None:
        # a station saved with blur_people, then the gateway restarted without a detector
        raise Problem(
            503,
            "This station blurs people, but the gateway has no person detector "
            "(LINESIGHT_PEOPLE_DETECTOR_MODEL); the photo was not stored.",
        )
    params = PredictParams(
        model=settings.people_detector_model,
        alias=settings.people_detector_alias,
        conf=settings.people_detector_confidence,
        max_det=1000,
    )
    try:
        prediction = await inference.predict(
            ("image", photo, "application/octet-stream"), params, timeout=settings.inference_timeout_seconds
        )
    except UpstreamError as exc:
        raise Problem(
            503,
            f"The person detector ({settings.people_detector_model}) did not answer ({exc.status}), so "
            "people could not be blurred; the photo was not stored. Try again.",
        ) from None
    return [
        (math.floor(d.box.x1), math.floor(d.box.y1), math.ceil(d.box.x2), math.ceil(d.box.y2))
        for d in prediction.detections or []
        if d.label == settings.people_detector_label and d.confidence >= settings.people_detector_confidence
    ]
