"""Reviewed label reads as training data for a token classifier: every OCR token with the label it
carries on the confirmed read (a code type, `key` or `other`), one JSON object per read. The format is
described in docs/labels.md."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session, sessionmaker, undefer

from linesight_core.label_codes import compact, is_key_word
from linesight_gateway.db.models import LabelRead
from linesight_gateway.domain.labels import REVIEWED

KEY, OTHER = "key", "other"
# A token this short says nothing on its own: "3" is in half the codes of a label. It is labelled by
# an exact match or by where it was read, never by being part of a longer value.
MIN_PART = 3
SAME_BOX_IOU = 0.5
BATCH = 200


def _iou(a: dict[str, int], b: dict[str, int]) -> float:
    w = min(a["x2"], b["x2"]) - max(a["x1"], b["x1"])
    h = min(a["y2"], b["y2"]) - max(a["y1"], b["y1"])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    area = (a["x2"] - a["x1"]) * (a["y2"] - a["y1"]) + (b["x2"] - b["x1"]) * (b["y2"] - b["y1"])
    return inter / (area - inter)


def token_label(token: dict[str, Any], codes: list[dict[str, Any]]) -> str:
    """The code type of the confirmed code this token belongs to, `key` or `other`. In order: the
    token's text is a code's whole value; the token is one the OCR service read the code from (a misread
    value a person corrected is still that code); the token is a label key (`S/N:`, `Model`); the token's
    text is part of a code's value. Texts are compared upper case, letters and digits only."""
    text = compact(token["text"])
    if text:
        for code in codes:
            if compact(code["value"]) == text:
                return str(code["type"])
        for code in codes:
            if any(_iou(token["box"], box) >= SAME_BOX_IOU for box in code.get("token_boxes", [])):
                return str(code["type"])
    if is_key_word(token["text"]):
        return KEY
    if len(text) >= MIN_PART:
        best, share = OTHER, 0.0
        for code in codes:
            value = compact(code["value"])
            if text in value and len(text) / len(value) > share:
                best, share = str(code["type"]), len(text) / len(value)
        return best
    return OTHER


def export_line(row: LabelRead) -> dict[str, Any]:
    return {
        "read_id": str(row.id),
        "status": row.status,
        "vendor": row.vendor_id,
        "station": row.station_name,
        "reviewed_at": row.reviewed_at.isoformat() if row.reviewed_at else None,
        "image_sha256": row.image_sha256,
        "image_width": row.image_width,
        "image_height": row.image_height,
        "codes": [{"type": c["type"], "value": c["value"]} for c in row.codes],
        "tokens": [
            {
                "text": t["text"],
                "confidence": t["confidence"],
                "box": t["box"],
                "block": t["block"],
                "line": t["line"],
                "word": t["word"],
                "label": token_label(t, row.codes),
            }
            for t in row.tokens
        ],
    }


def iter_reviewed(
    session_factory: sessionmaker[Session],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    vendor: str | None = None,
    station_id: uuid.UUID | None = None,
) -> Iterator[dict[str, Any]]:
    """Approved and corrected reads in the order they were reviewed, read in batches (a short
    transaction each) so a long export holds no transaction open while the client reads."""
    after: tuple[datetime, Any] | None = None
    while True:
        stmt = (
            select(LabelRead)
            .options(undefer(LabelRead.tokens))
            .where(LabelRead.status.in_(REVIEWED), LabelRead.reviewed_at.is_not(None))
        )
        if since:
            stmt = stmt.where(LabelRead.reviewed_at >= since)
        if until:
            stmt = stmt.where(LabelRead.reviewed_at < until)
        if vendor:
            stmt = stmt.where(LabelRead.vendor_id == vendor)
        if station_id:
            stmt = stmt.where(LabelRead.station_id == station_id)
        if after:
            stmt = stmt.where(tuple_(LabelRead.reviewed_at, LabelRead.id) > after)
        with session_factory() as session:
            rows = list(session.scalars(stmt.order_by(LabelRead.reviewed_at, LabelRead.id).limit(BATCH)))
            lines = [export_line(r) for r in rows]
        yield from lines
        if len(rows) < BATCH:
            return
        after = (rows[-1].reviewed_at, rows[-1].id)  # type: ignore[assignment]
