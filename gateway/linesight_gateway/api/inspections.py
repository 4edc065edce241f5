"""Inspections: send a photo, get OK / NOK; list, read, and fetch the photo plain or annotated."""

from __future__ import annotations

import asyncio
import contextlib
import io
import time
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import JSONResponse
from PIL import Image, ImageOps
from sqlalchemy import select, text
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from linesight_core.contracts.inference import Prediction
from linesight_core.contracts.registry import MAX_VERSION
from linesight_core.errors import NotFound, Problem
from linesight_core.image_metadata import strip_metadata
from linesight_core.images import DecodedImage, decode_image, sniff_image_type
from linesight_core.pagination import paginate
from linesight_core.photo_stats import photo_stats, stats_fit
from linesight_core.storage import ObjectNotFound, ObjectStore, StoredObject
from linesight_gateway.api.deps import Operator, SessionDep, Viewer
from linesight_gateway.api.inspection_schemas import InspectionOut, InspectionPage, inspection_out
from linesight_gateway.db.models import Feedback, Inspection, Station
from linesight_gateway.domain import inspections as domain
from linesight_gateway.domain.access import Principal
from linesight_gateway.domain.annotate import annotate
from linesight_gateway.domain.people import people_in
from linesight_gateway.domain.privacy import blur_photo, encode_jpeg
from linesight_gateway.domain.shadow import ShadowJob, job_for
from linesight_gateway.domain.station_scope import require_station, station_filter
from linesight_gateway.settings import GatewaySettings

LOSSLESS_STRIP = frozenset({"image/jpeg", "image/png", "image/bmp"})
router = APIRouter(prefix="/api/v1/inspections", tags=["inspections"])
MAX_BATCH = 16
STATION_EXAMPLE = "8c1d2b55-9a0e-4f51-8a21-0e3f4a5b6c7d"


def _station(session, station_id: uuid.UUID, principal: Principal) -> Station:  # type: ignore[no-untyped-def]
    require_station(principal, station_id)
    station = session.get(Station, station_id)
    if station is None:
        raise NotFound("station", station_id)
    if not station.active:
        raise Problem(409, f"Station {station.name!r} is not active; activate it to inspect there.")
    return station


def _photo_stats(request: Request, station: Station, decoded: DecodedImage) -> dict[str, Any]:
    reference = request.app.state.reference_views.get(station.reference_image_key)
    return photo_stats(decoded.image, reference, size=(decoded.width, decoded.height))


def check_photo(data: bytes, settings: GatewaySettings) -> DecodedImage:
    """The photo checked (byte and pixel limits from its header, then a real decode) and decoded as far
    as the statistics need: a large JPEG reduced in the DCT domain, every block still entropy-decoded, so
    a damaged or cut-off file is refused as it is by a full decode."""
    return decode_image(
        data, max_bytes=settings.image_max_bytes, max_pixels=settings.image_max_pixels, fit=stats_fit
    )


async def _inspect_one(
    request: Request,
    session: Session,
    station: Station,
    data: bytes,
    principal: Principal,
    checked: DecodedImage | None = None,
) -> tuple[Inspection, ShadowJob | None]:
    """`checked`: the photo as check_photo decoded it already (the batch checks every photo first).
    With the inspection, its shadow job (when the station has a shadow alias): the caller offers it to
    the shadow queue once the answer is sent."""
    settings = request.app.state.settings
    store: ObjectStore = request.app.state.store
    t0 = time.perf_counter()

    def ask(photo: bytes) -> asyncio.Task[tuple[Prediction | None, str | None, float]]:
        return asyncio.create_task(
            domain.ask_model(request.app.state.inference, photo, station, settings.inference_timeout_seconds)
        )

    inspection_id = uuid.uuid4()
    key = f"inspections/{datetime.now(UTC):%Y/%m/%d}/{inspection_id}"
    bucket = settings.bucket("images")

    async def store_photo(photo: bytes, content_type: str) -> tuple[StoredObject, float]:
        started = time.perf_counter()
        stored = await run_in_threadpool(store.put_bytes, bucket, key, photo, content_type=content_type)
        return stored, (time.perf_counter() - started) * 1000

    async def abandon(*tasks: asyncio.Task[Any]) -> None:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def check_and_measure(
        photo: bytes, ready: DecodedImage | None
    ) -> tuple[DecodedImage, float, dict[str, Any], list[dict[str, float]]]:
        # Off the event loop, while the model looks at the photo: the check (unless done), the photo's
        # statistics and the station's baseline, so that none of them waits for the model's answer.
        decoded = ready or check_photo(photo, settings)
        checked_at = time.perf_counter()
        stats = _photo_stats(request, station, decoded)
        return decoded, checked_at, stats, domain.recent_signals(session, station.id)

    faces = people = 0
    ready = checked  # the decode done before the model is asked, if any
    # Metadata (EXIF with GPS, XMP) never leaves this process. JPEG, PNG and BMP lose it without a
    # decode; other formats are re-encoded, which needs the full check first.
    lossless = sniff_image_type(data) in LOSSLESS_STRIP
    if station.blur_faces or station.blur_people or not lossless:
        # Faces and people are blurred before anything leaves this process: check, blur, then store and
        # ask. Only the person detector (inside the system) sees the original.
        ready = await run_in_threadpool(
            decode_image, data, max_bytes=settings.image_max_bytes, max_pixels=settings.image_max_pixels
        )
        content_type = f"image/{ready.format.lower()}"
        regions = await people_in(request.app.state.inference, settings, data) if station.blur_people else []
        blurred, faces, people = await run_in_threadpool(
            blur_photo, ready.image, faces=station.blur_faces, people=regions
        )
        if faces or people:  # the original is not stored
            data = await run_in_threadpool(encode_jpeg, blurred)
            content_type = "image/jpeg"
        else:
            data = await run_in_threadpool(strip_metadata, data, max_pixels=settings.image_max_pixels)
    else:
        # The model looks at the photo and the photo is stored while the gateway checks it (decoding
        # only as far as the statistics need); both are used only once the check passed, and a refused
        # photo is removed again.
        data = await run_in_threadpool(strip_metadata, data, max_pixels=settings.image_max_pixels)
        content_type = sniff_image_type(data)
    model_call = ask(data)
    saving = asyncio.create_task(store_photo(data, content_type))
    try:
        decoded, t1, photo, history = await run_in_threadpool(check_and_measure, data, ready)
    except BaseException:
        await abandon(model_call)
        with contextlib.suppress(Exception):
            await saving
            await run_in_threadpool(store.delete, bucket, key)
        raise
    # The inspection is acknowledged only once both the photo and its row are written, so an
    # acknowledged photo is never lost.
    try:
        stored, store_ms = await saving
    except BaseException:
        await abandon(model_call)
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
        people_blurred=people,
        created_by=principal.key_id,
        attempts=0,
        photo_stats=photo,
    )
    timings = {
        "decode": round((t1 - t0) * 1000, 2),
        "store": round(store_ms, 2),
        "inference": round(infer_ms, 2),
    }
    if prediction is None:
        domain.mark_failed_attempt(inspection, error or "no answer")
    else:
        timings["total"] = round((time.perf_counter() - t0) * 1000, 2)
        training = request.app.state.training_baselines.get(prediction.model_name, prediction.version)
        domain.complete(inspection, station, prediction, timings, history, training)
    session.add(inspection)
    shadow = job_for(inspection, station, data)
    await run_in_threadpool(session.commit)
    return inspection, shadow


def _shadow_later(request: Request, job: ShadowJob | None, tasks: BackgroundTasks) -> None:
    """Starlette runs background tasks after the response is sent: the live answer never waits."""
    if job is not None:
        tasks.add_task(request.app.state.shadow.offer, job)


@router.post(
    "",
    response_model=InspectionOut,
    status_code=201,
    summary="Inspect one photo at a station",
    responses={
        202: {"model": InspectionOut, "description": "Stored, the model could not answer yet: `pending`"},
        404: {"description": "Unknown station"},
        413: {"description": "Image over the byte or pixel limit"},
        415: {"description": "Image format not accepted"},
        422: {"description": "Not an image, or a damaged one"},
        503: {"description": "The station blurs people and the person detector did not answer: not stored"},
    },
)
async def create_inspection(
    request: Request,
    principal: Operator,
    session: SessionDep,
    image: Annotated[UploadFile, File(description="The photo: JPEG, PNG, WEBP, BMP or TIFF")],
    station_id: Annotated[
        uuid.UUID, Form(description="Where the photo was taken", examples=[STATION_EXAMPLE])
    ],
) -> Response:
    station = await run_in_threadpool(_station, session, station_id, principal)
    data = await image.read(request.app.state.settings.image_max_bytes + 1)
    inspection, shadow = await _inspect_one(request, session, station, data, principal)
    body = inspection_out(inspection, principal).model_dump(mode="json")
    later = BackgroundTasks()
    _shadow_later(request, shadow, later)
    return JSONResponse(body, status_code=201 if inspection.status == "completed" else 202, background=later)


@router.post(
    "/batch",
    response_model=list[InspectionOut],
    summary="Inspect several photos at one station",
    description="Every photo is validated before any is stored; answers come in the order of the photos. "
    "Each item's `status` says whether it is completed or pending.",
)
async def create_inspections(
    request: Request,
    principal: Operator,
    session: SessionDep,
    later: BackgroundTasks,
    images: Annotated[list[UploadFile], File(description=f"Up to {MAX_BATCH} photos")],
    station_id: Annotated[
        uuid.UUID, Form(description="Where the photos were taken", examples=[STATION_EXAMPLE])
    ],
) -> list[InspectionOut]:
    if len(images) > MAX_BATCH:
        raise Problem(413, f"At most {MAX_BATCH} photos per batch; got {len(images)}.")
    settings = request.app.state.settings
    station = await run_in_threadpool(_station, session, station_id, principal)
    payloads = []
    for n, upload in enumerate(images):
        data = await upload.read(settings.image_max_bytes + 1)
        try:
            checked = await run_in_threadpool(check_photo, data, settings)
        except Problem as exc:
            raise Problem(
                exc.status, f"Photo {n + 1} ({upload.filename}): {exc.detail}", title=exc.title
            ) from None
        payloads.append((data, checked))
    answers = []
    for data, checked in payloads:
        inspection, shadow = await _inspect_one(request, session, station, data, principal, checked)
        _shadow_later(request, shadow, later)
        answers.append(inspection_out(inspection, principal))
    return answers


@router.get("", response_model=InspectionPage, summary="Inspection history")
def list_inspections(
    principal: Viewer,
    session: SessionDep,
    station_id: uuid.UUID | None = None,
    status: Literal["completed", "pending"] | None = None,
    verdict: Literal["OK", "NOK"] | None = None,
    confidence_status: Literal["success", "low_confidence", "rejected"] | None = None,
    model_version: int | None = Query(None, ge=1, le=MAX_VERSION),
    since: datetime | None = None,
    until: datetime | None = None,
    has_feedback: bool | None = None,
    unusual: Annotated[
        bool | None, Query(description="true: only photos flagged unusual; false: only the others")
    ] = None,
    sort: Literal["newest", "oldest"] = "newest",
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
) -> InspectionPage:
    if station_id is not None:
        require_station(principal, station_id)
    stmt = select(Inspection)
    scope = station_filter(principal, Inspection.station_id)
    if scope is not None:
        stmt = stmt.where(scope)
    filters = {
        Inspection.station_id: station_id,
        Inspection.status: status,
        Inspection.verdict: verdict,
        Inspection.confidence_status: confidence_status,
        Inspection.model_version: model_version,
    }
    for column, value in filters.items():
        if value is not None:
            stmt = stmt.where(column == value)
    if has_feedback is not None:
        exists = select(Feedback.inspection_id).where(Feedback.inspection_id == Inspection.id).exists()
        stmt = stmt.where(exists if has_feedback else ~exists)
    if unusual is not None:
        usual = Inspection.unusual == text("'[]'::jsonb")
        stmt = stmt.where(~usual if unusual else usual)
    if since:
        stmt = stmt.where(Inspection.created_at >= since)
    if until:
        stmt = stmt.where(Inspection.created_at < until)
    order = Inspection.created_at.desc() if sort == "newest" else Inspection.created_at.asc()
    rows, total = paginate(session, stmt, order, Inspection.id, limit=limit, offset=offset)
    return InspectionPage(
        items=[inspection_out(i, principal) for i in rows], total=total, limit=limit, offset=offset
    )


def _get(session, inspection_id: uuid.UUID, principal: Principal) -> Inspection:  # type: ignore[no-untyped-def]
    inspection = session.get(Inspection, inspection_id)
    if inspection is None:
        raise NotFound("inspection", inspection_id)
    require_station(principal, inspection.station_id)
    return inspection


@router.get("/{inspection_id}", response_model=InspectionOut, summary="One inspection")
def get_inspection(inspection_id: uuid.UUID, principal: Viewer, session: SessionDep) -> InspectionOut:
    return inspection_out(_get(session, inspection_id, principal), principal)


def _image_bytes(request: Request, inspection: Inspection) -> tuple[bytes, str]:
    store: ObjectStore = request.app.state.store
    bucket = request.app.state.settings.bucket("images")
    try:
        photo = store.open(bucket, inspection.image_key)
    except ObjectNotFound:
        raise Problem(
            404,
            f"The photo of inspection {inspection.id} is gone from object storage (deleted or lost "
            "there); the inspection's answer is kept, the photo cannot be shown.",
            title="Photo missing from storage",
        ) from None
    return b"".join(photo.chunks), photo.content_type


@router.get(
    "/{inspection_id}/image",
    summary="The stored photo",
    response_class=Response,
    responses={
        200: {
            "content": {"image/*": {}},
            "description": "The photo as stored: faces blurred (JPEG) when the station asks for it",
        }
    },
)
def get_image(request: Request, inspection_id: uuid.UUID, principal: Viewer, session: SessionDep) -> Response:
    data, content_type = _image_bytes(request, _get(session, inspection_id, principal))
    return Response(data, media_type=content_type)


@router.get(
    "/{inspection_id}/annotated",
    summary="The photo with boxes, labels and the verdict drawn",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}, "description": "A JPEG of the upright photo"}},
)
def get_annotated(
    request: Request, inspection_id: uuid.UUID, principal: Viewer, session: SessionDep
) -> Response:
    inspection = _get(session, inspection_id, principal)
    data, _ = _image_bytes(request, inspection)
    with Image.open(io.BytesIO(data)) as raw:
        img = ImageOps.exif_transpose(raw) or raw  # boxes are in the upright image's pixels
        dets = [p for p in inspection.predictions if "box" in p]
        drawn = annotate(img, dets, inspection.verdict)
    return Response(encode_jpeg(drawn, quality=88), media_type="image/jpeg")
