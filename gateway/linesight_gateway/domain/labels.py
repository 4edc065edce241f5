"""Label reads: what the OCR service read on a label photo, approved at once when every code is sure,
otherwise queued for a person who approves the read or confirms the right set of codes. Every change
is kept as a revision and written to the audit log with its before and after."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from linesight_core.contracts.ocr import LabelCode, LabelRead
from linesight_core.errors import Conflict, Problem
from linesight_core.label_codes import CodeInvalid, confirm
from linesight_core.storage import StoredObject
from linesight_gateway import metrics
from linesight_gateway.db.models import LabelRead as LabelReadRow
from linesight_gateway.db.models import LabelReadChange, Station
from linesight_gateway.domain import audit
from linesight_gateway.domain.access import Principal

NEEDS_REVIEW, APPROVED, CORRECTED = "needs_review", "approved", "corrected"
REVIEWED = (APPROVED, CORRECTED)
OBJECT_TYPE = "label_read"


@dataclass(frozen=True)
class Triage:
    status: str
    auto_approved: bool
    codes: list[dict[str, Any]]
    reasons: list[str]


def _flagged(code: LabelCode, threshold: float) -> bool:
    return code.confidence < threshold or not code.valid or code.barcode_disagrees or bool(code.disagreement)


def _stored(code: LabelCode, review: str) -> dict[str, Any]:
    return {
        "type": code.type,
        "value": code.value,
        "key": code.key,
        "read_value": code.value,
        "confidence": code.confidence,
        "source": code.source,
        "valid": code.valid,
        "repaired": code.repaired,
        "barcode_disagrees": code.barcode_disagrees,
        "evidence": list(code.evidence),
        "disagreement": code.disagreement,
        "token_boxes": [b.model_dump() for b in code.token_boxes],
        "review": review,
    }


def triage(read: LabelRead, threshold: float) -> Triage:
    """Approved at once when the OCR service raised no doubt and read every code with at least
    `threshold` confidence; otherwise `needs_review`, each code marked `ok` or `flagged`."""
    reasons: list[str] = list(read.review_reasons)
    flags = [_flagged(c, threshold) for c in read.codes]
    if any(c.confidence < threshold for c in read.codes) and "low_confidence" not in reasons:
        reasons.append("low_confidence")
    if not read.codes and "no_codes" not in reasons:
        reasons.append("no_codes")
    if not reasons and not any(flags):
        return Triage(APPROVED, True, [_stored(c, "approved") for c in read.codes], [])
    codes = [_stored(c, "flagged" if flag else "ok") for c, flag in zip(read.codes, flags, strict=True)]
    return Triage(NEEDS_REVIEW, False, codes, reasons)


def brief(codes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Codes as the audit log and the history show them."""
    return [{"type": c["type"], "value": c["value"], "review": c["review"]} for c in codes]


def _revision(session: Session, row: LabelReadRow, action: str, by: Principal, notes: str = "") -> None:
    session.add(
        LabelReadChange(
            read_id=row.id,
            revision=row.revision,
            action=action,
            status=row.status,
            codes=brief(row.codes),
            notes=notes,
            by_key_id=by.key_id,
            by_name=by.name,
        )
    )


def record_label_read(
    session: Session,
    read: LabelRead,
    photo: StoredObject,
    *,
    station: Station | None,
    context: str,
    vendor_hint: str | None,
    image: tuple[str, int, int],
    auto_approve_threshold: float,
    by: Principal,
) -> LabelReadRow:
    """The OCR service's `read` of the stored `photo` (`image`: its content type, width and height) as a
    new label read, triaged (approved at once, or queued for review) and kept as revision 1. Added to
    the session, not committed."""
    content_type, width, height = image
    result = triage(read, auto_approve_threshold)
    now = datetime.now(UTC)
    row = LabelReadRow(
        id=uuid.uuid4(),
        status=result.status,
        auto_approved=result.auto_approved,
        station_id=station.id if station else None,
        station_name=station.name if station else None,
        context=context,
        vendor_hint=vendor_hint,
        vendor_id=read.vendor.id if read.vendor else None,
        vendor_name=read.vendor.name if read.vendor else None,
        vendor_matched_by=read.vendor.matched_by if read.vendor else None,
        codes=result.codes,
        ocr_codes=result.codes,
        review_reasons=result.reasons,
        tokens=[t.model_dump() for t in read.tokens],
        tokens_count=len(read.tokens),
        barcodes=[b.model_dump() for b in read.barcodes],
        rotation=read.rotation,
        timings_ms=read.timings_ms.model_dump(),
        image_key=photo.key,
        image_sha256=photo.sha256,
        image_content_type=content_type,
        image_width=width,
        image_height=height,
        notes="",
        revision=1,
        created_by=by.key_id,
        created_at=now,
        reviewed_at=now if result.auto_approved else None,
    )
    session.add(row)
    # The OCR read as revision 1 (`auto_approve` when it was approved at once), by whoever sent it.
    _revision(session, row, "auto_approve" if row.auto_approved else "read", by)
    metrics.record_label_read(row.status, row.vendor_id)
    return row


def _mark_reviewed(row: LabelReadRow, by: Principal, status: str, codes: list[dict[str, Any]]) -> None:
    row.status = status
    row.codes = codes
    row.revision += 1
    row.reviewed_by = by.key_id
    row.reviewed_by_name = by.name
    row.reviewed_at = datetime.now(UTC)


def _audit(
    session: Session, by: Principal, action: str, row: LabelReadRow, before: dict[str, Any], notes: str
) -> None:
    after = {"status": row.status, "codes": brief(row.codes)}
    audit.record(
        session,
        by,
        f"{OBJECT_TYPE}.{action}",
        OBJECT_TYPE,
        str(row.id),
        {"revision": row.revision, "before": before, "after": after, "notes": notes},
    )


def approve(session: Session, row: LabelReadRow, by: Principal, notes: str) -> None:
    """Confirm the codes as read. A code that cannot be right (a GTIN's check digit, a MAC address's
    form) cannot be approved: it must be corrected."""
    if row.status != NEEDS_REVIEW:
        raise Conflict(
            f"This read is {row.status} already; send the right codes to /corrections to change it.",
        )
    confirmed = []
    for n, code in enumerate(row.codes):
        try:
            value = confirm(code["type"], code["value"])
        except CodeInvalid as exc:
            raise Problem(
                422,
                f"Code {n + 1} ({code['type']} {code['value']!r}) cannot be approved as read: {exc}. "
                "Send the right value to /corrections.",
            ) from None
        confirmed.append({**code, "value": value, "valid": True, "review": "approved"})
    before = {"status": row.status, "codes": brief(row.codes)}
    _mark_reviewed(row, by, APPROVED, confirmed)
    row.notes = notes or row.notes
    _revision(session, row, "approve", by, notes)
    metrics.record_review(APPROVED, row.codes)
    _audit(session, by, "approve", row, before, notes)


def _check_codes(submitted: list[dict[str, str]]) -> list[tuple[str, str]]:
    checked: list[tuple[str, str]] = []
    errors: list[tuple[int, str]] = []
    for n, code in enumerate(submitted):
        try:
            value = confirm(code["type"], code["value"])
        except CodeInvalid as exc:
            errors.append((n, str(exc)))
            continue
        if (code["type"], value) in checked:
            errors.append((n, f"{code['type']} {value} is listed twice"))
        checked.append((code["type"], value))
    if errors:
        raise Problem(
            422,
            "; ".join(f"code {n + 1}: {msg}" for n, msg in errors),
            title="Invalid codes",
            errors=[{"loc": ["body", "codes", n, "value"], "msg": msg} for n, msg in errors],
        )
    return checked


def confirmed_codes(ocr_codes: list[dict[str, Any]], checked: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The confirmed set, each code tied to what the OCR service read where it can be: the same value
    (`approved`), else a read of the same type in reading order (`corrected`, keeping where on the label it
    was read), else `added`."""
    remaining = list(ocr_codes)
    out: list[dict[str, Any] | None] = [None] * len(checked)
    for i, (kind, value) in enumerate(checked):
        same = next((c for c in remaining if c["type"] == kind and c["value"] == value), None)
        if same is not None:
            remaining.remove(same)
            out[i] = {**same, "value": value, "valid": True, "review": "approved"}
    for i, (kind, value) in enumerate(checked):
        if out[i] is not None:
            continue
        read = next((c for c in remaining if c["type"] == kind), None)
        if read is not None:
            remaining.remove(read)
            out[i] = {**read, "value": value, "valid": True, "review": "corrected"}
        else:
            out[i] = {
                "type": kind,
                "value": value,
                "key": None,
                "read_value": None,
                "confidence": None,
                "source": "reviewer",
                "valid": True,
                "repaired": False,
                "barcode_disagrees": False,
                "token_boxes": [],
                "review": "added",
            }
    return [c for c in out if c is not None]


def correct(
    session: Session, row: LabelReadRow, submitted: list[dict[str, str]], by: Principal, notes: str
) -> None:
    """Replace the codes with the confirmed set. The read is `corrected` when the set differs from what
    the OCR service read, `approved` when the person confirmed exactly that."""
    codes = confirmed_codes(row.ocr_codes, _check_codes(submitted))
    as_read = all(c["review"] == "approved" for c in codes) and len(codes) == len(row.ocr_codes)
    before = {"status": row.status, "codes": brief(row.codes)}
    _mark_reviewed(row, by, APPROVED if as_read else CORRECTED, codes)
    row.notes = notes or row.notes
    _revision(session, row, "correct", by, notes)
    metrics.record_review(row.status, codes)
    _audit(session, by, "correct", row, before, notes)


def history(session: Session, read_id: Any) -> list[LabelReadChange]:
    return list(
        session.scalars(
            select(LabelReadChange)
            .where(LabelReadChange.read_id == read_id)
            .order_by(LabelReadChange.revision, LabelReadChange.id)
        )
    )
