"""Feedback on an inspection: correct or wrong, with corrections; changeable, with its history."""

from __future__ import annotations

import logging
import uuid

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from linesight_core.clients.errors import UpstreamError
from linesight_core.errors import Conflict, NotFound, Problem
from linesight_gateway import metrics
from linesight_gateway.api.deps import Operator, RegistryDep, SessionDep, Viewer
from linesight_gateway.api.feedback_schemas import DatasetLink, FeedbackIn, FeedbackOut, FeedbackRevisionOut
from linesight_gateway.db.models import Feedback, Inspection, Station
from linesight_gateway.domain import audit, shadow
from linesight_gateway.domain import feedback as domain
from linesight_gateway.domain.station_scope import require_station

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/inspections/{inspection_id}/feedback", tags=["feedback"])


def feedback_out(session, feedback: Feedback) -> FeedbackOut:  # type: ignore[no-untyped-def]
    revisions = domain.history(session, feedback.inspection_id)
    return FeedbackOut(
        inspection_id=str(feedback.inspection_id),
        correct=feedback.correct,
        corrected_verdict=feedback.corrected_verdict,  # type: ignore[arg-type]
        corrected_counts=feedback.corrected_counts,
        corrected_boxes=feedback.corrected_boxes,  # type: ignore[arg-type]
        corrected_class=feedback.corrected_class,
        instances=feedback.corrected_instances,  # type: ignore[arg-type]
        notes=feedback.notes,
        use_for_training=feedback.use_for_training,
        revision=feedback.revision,
        updated_at=feedback.updated_at,
        dataset=DatasetLink(
            dataset=feedback.dataset_name,
            item_id=feedback.dataset_item_id,
            synced=feedback.dataset_synced_revision == feedback.revision and not feedback.dataset_sync_error,
            error=feedback.dataset_sync_error,
        )
        if feedback.use_for_training or feedback.dataset_name
        else None,
        history=[
            FeedbackRevisionOut(revision=r.revision, content=r.content, by_name=r.by_name, at=r.at)
            for r in revisions
        ],
    )


@router.post(
    "",
    response_model=FeedbackOut,
    status_code=201,
    summary="Confirm or correct an inspection's answer",
    responses={200: {"model": FeedbackOut, "description": "Feedback changed; the earlier version is kept"}},
)
async def give_feedback(
    inspection_id: uuid.UUID,
    body: FeedbackIn,
    principal: Operator,
    session: SessionDep,
    registry: RegistryDep,
) -> Response:
    inspection = await run_in_threadpool(session.get, Inspection, inspection_id)
    if inspection is None:
        raise NotFound("inspection", inspection_id)
    require_station(principal, inspection.station_id)
    if inspection.status != "completed" or inspection.model_version is None:
        raise Conflict("This inspection has no answer yet (pending); give feedback once it is completed.")
    station = await run_in_threadpool(session.get, Station, inspection.station_id)
    assert station is not None  # the foreign key guarantees it
    payload = body.model_dump(mode="json")
    class_names = None
    if not body.correct:
        try:
            version = await registry.resolve(inspection.model_name, version=inspection.model_version)
            class_names = set(version.class_names.values())
        except UpstreamError as exc:
            if exc.status < 500:
                raise
            # The registry is away: keep the operator's correction now; the class names are checked
            # again when the feedback is added to the dataset (dataset_sync), which retries until then.
            log.warning("feedback saved without the class check", extra={"error": str(exc)})
    domain.check_corrections(inspection, station, payload, class_names)
    feedback, created = await run_in_threadpool(domain.save, session, inspection, payload, principal)
    if created:
        metrics.record_feedback(station.name, inspection, body.correct)
        shadow.count_feedback(station, inspection, feedback)
    audit.record(
        session,
        principal,
        "feedback.create" if created else "feedback.update",
        "inspection",
        str(inspection.id),
        {"correct": body.correct, "revision": feedback.revision},
    )
    out = await run_in_threadpool(feedback_out, session, feedback)
    return JSONResponse(out.model_dump(mode="json"), status_code=201 if created else 200)


@router.get("", response_model=FeedbackOut, summary="The feedback on an inspection, with its history")
def get_feedback(inspection_id: uuid.UUID, principal: Viewer, session: SessionDep) -> FeedbackOut:
    inspection = session.get(Inspection, inspection_id)
    if inspection is None:
        raise NotFound("inspection", inspection_id)
    require_station(principal, inspection.station_id)
    feedback = session.get(Feedback, inspection_id)
    if feedback is None:
        raise Problem(404, "This inspection has no feedback yet.")
    return feedback_out(session, feedback)
