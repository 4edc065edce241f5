"""Inspect one photo at a station: check it, blur faces and people, store it, ask the model, and write the
inspection row with its verdict (or as `pending` when the model cannot answer)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from linesight_core.clients.inference import InferenceClient
from linesight_core.contracts.inference import Prediction
from linesight_core.image_metadata import strip_metadata
from linesight_core.images import DecodedImage, decode_image, sniff_image_type
from linesight_core.photo_stats import photo_stats, stats_fit
from linesight_core.storage import StoredObject
from linesight_gateway.db.models import Inspection, Station
from linesight_gateway.domain import inspections as answers
from linesight_gateway.domain.access import Principal
from linesight_gateway.domain.people import PeopleDetector, people_in
from linesight_gateway.domain.photos import PhotoLimits, PhotoStore
from linesight_gateway.domain.privacy import blur_photo, encode_jpeg
from linesight_gateway.domain.reference_views import ReferenceViews
from linesight_gateway.domain.shadow import ShadowJob, job_for
from linesight_gateway.domain.training_baselines import TrainingBaselines

LOSSLESS_STRIP = frozenset({"image/jpeg", "image/png", "image/bmp"})


def check_photo(data: bytes, limits: PhotoLimits) -> DecodedImage:
    """The photo checked (byte and pixel limits from its header, then a real decode) and decoded as far
    as the statistics need: a large JPEG reduced in the DCT domain, every block still entropy-decoded, so
    a damaged or cut-off file is refused as it is by a full decode."""
    return decode_image(data, max_bytes=limits.max_bytes, max_pixels=limits.max_pixels, fit=stats_fit)


def photo_key(inspection_id: uuid.UUID, now: datetime) -> str:
    return f"inspections/{now:%Y/%m/%d}/{inspection_id}"


@dataclass(frozen=True)
class InspectionServices:
    """What inspecting a photo uses besides the request: the clients the app built at startup and the
    limits from its settings (api/deps.py makes it)."""

    store: PhotoStore
    inference: InferenceClient
    limits: PhotoLimits
    timeout: float  # seconds the model may take before the inspection is kept pending
    people: PeopleDetector
    references: ReferenceViews
    baselines: TrainingBaselines


async def _abandon(*tasks: asyncio.Task[Any]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def inspect(
    session: Session,
    photo: bytes,
    station: Station,
    principal: Principal,
    services: InspectionServices,
    *,
    checked: DecodedImage | None = None,
    offer_shadow: Callable[[ShadowJob], None] | None = None,
) -> Inspection:
    """The committed inspection of `photo`: `completed` with its verdict, or `pending` when the model did
    not answer. `checked`: the photo as check_photo decoded it already (a batch checks every photo first).
    `offer_shadow` gets the inspection's shadow job when the station has a shadow alias."""
    t0 = time.perf_counter()
    store, inference, limits, people = services.store, services.inference, services.limits, services.people
    references, baselines, inference_timeout = services.references, services.baselines, services.timeout
    data = photo

    def ask(photo: bytes) -> asyncio.Task[tuple[Prediction | None, str | None, float]]:
        return asyncio.create_task(answers.ask_model(inference, photo, station, inference_timeout))

    inspection_id = uuid.uuid4()
    key = photo_key(inspection_id, datetime.now(UTC))

    async def store_photo(photo: bytes, content_type: str) -> tuple[StoredObject, float]:
        started = time.perf_counter()
        stored = await run_in_threadpool(
            store.store.put_bytes, store.bucket, key, photo, content_type=content_type
        )
        return stored, (time.perf_counter() - started) * 1000

    def check_and_measure(
        photo: bytes, ready: DecodedImage | None
    ) -> tuple[DecodedImage, float, dict[str, Any], list[dict[str, float]]]:
        # Off the event loop, while the model looks at the photo: the check (unless done), the photo's
        # statistics and the station's baseline, so that none of them waits for the model's answer.
        decoded = ready or check_photo(photo, limits)
        checked_at = time.perf_counter()
        reference = references.get(station.reference_image_key)
        stats = photo_stats(decoded.image, reference, size=(decoded.width, decoded.height))
        return decoded, checked_at, stats, answers.recent_signals(session, station.id)

    faces = blurred_people = 0
    ready = checked  # the decode done before the model is asked, if any
    # Metadata (EXIF with GPS, XMP) never leaves this process. JPEG, PNG and BMP lose it without a
    # decode; other formats are re-encoded, which needs the full check first.
    lossless = sniff_image_type(data) in LOSSLESS_STRIP
    if station.blur_faces or station.blur_people or not lossless:
        # Faces and people are blurred before anything leaves this process: check, blur, then store and
        # ask. Only the person detector (inside the system) sees the original.
        ready = await run_in_threadpool(
            decode_image, data, max_bytes=limits.max_bytes, max_pixels=limits.max_pixels
        )
        content_type = f"image/{ready.format.lower()}"
        regions = await people_in(inference, people, data) if station.blur_people else []
        blurred, faces, blurred_people = await run_in_threadpool(
            blur_photo, ready.image, faces=station.blur_faces, people=regions
        )
        if faces or blurred_people:  # the original is not stored
            data = await run_in_threadpool(encode_jpeg, blurred)
            content_type = "image/jpeg"
        else:
            data = await run_in_threadpool(strip_metadata, data, max_pixels=limits.max_pixels)
    else:
        # The model looks at the photo and the photo is stored while the gateway checks it (decoding
        # only as far as the statistics need); both are used only once the check passed, and a refused
        # photo is removed again.
        data = await run_in_threadpool(strip_metadata, data, max_pixels=limits.max_pixels)
        content_type = sniff_image_type(data)
    model_call = ask(data)
    saving = asyncio.create_task(store_photo(data, content_type))
    try:
        decoded, t1, stats, history = await run_in_threadpool(check_and_measure, data, ready)
    except BaseException:
        await _abandon(model_call)
        with contextlib.suppress(Exception):
            await saving
            await run_in_threadpool(store.store.delete, store.bucket, key)
        raise
    # The inspection is acknowledged only once both the photo and its row are written, so an
    # acknowledged photo is never lost.
    try:
        stored, store_ms = await saving
    except BaseException:
        await _abandon(model_call)
        raise
    prediction, error, infer_ms = await model_call
    inspection = Inspection(
        id=inspection_id,
        station_id=station.id,
        status="pending",
        model_name=station.model_name,
        model_alias=station.model_alias,
        image_key=stored.key,
        image_sha256=stored.sha256,
        image_width=decoded.width,
        image_height=decoded.height,
        faces_blurred=faces,
        people_blurred=blurred_people,
        created_by=principal.key_id,
        attempts=0,
        photo_stats=stats,
    )
    timings = {
        "decode": round((t1 - t0) * 1000, 2),
        "store": round(store_ms, 2),
        "inference": round(infer_ms, 2),
        "total": round((time.perf_counter() - t0) * 1000, 2),
    }
    answers.record_answer(
        inspection, station, prediction, error, timings=timings, history=history, baselines=baselines
    )
    session.add(inspection)
    shadow = job_for(inspection, station, data)
    await run_in_threadpool(session.commit)
    if shadow is not None and offer_shadow is not None:
        offer_shadow(shadow)
    return inspection
