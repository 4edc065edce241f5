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

from linesight_core.label_codes import token_label
from linesight_gateway.db.models import LabelRead
from linesight_gateway.domain.labels import REVIEWED

BATCH = 200


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
