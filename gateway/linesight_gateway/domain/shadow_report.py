"""Shadow mode's figures at a station: how often the shadow version agreed with the live answer, and, on
the inspections an operator verified, the accuracy of each against the operator's truth (the figures of
a replay, domain/replay_scoring.py). Per shadow version, since the alias may move during the period."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from linesight_gateway.db.models import Feedback, Inspection, Station
from linesight_gateway.domain.inspections import rules_of
from linesight_gateway.domain.replay_scoring import counted_classes, score, truth_of
from linesight_gateway.domain.shadow import AGREE, DISAGREE, FAILED, live_answer
from linesight_gateway.domain.verdict import StationRules

MAX_DISAGREEMENTS = 50  # the latest listed per version; the count covers every one


def shadowed(
    session: Session, station_id: Any, *, since: datetime | None, until: datetime | None, last_n: int
) -> list[tuple[Inspection, Feedback | None]]:
    """The station's inspections with a shadow answer (newest first), with their feedback if any."""
    stmt = (
        select(Inspection, Feedback)
        .outerjoin(Feedback, Feedback.inspection_id == Inspection.id)
        .where(Inspection.station_id == station_id, Inspection.shadow.is_not(None))
    )
    if since:
        stmt = stmt.where(Inspection.created_at >= since)
    if until:
        stmt = stmt.where(Inspection.created_at < until)
    rows = session.execute(stmt.order_by(Inspection.created_at.desc()).limit(last_n)).all()
    return [(r[0], r[1]) for r in rows]


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _version_figures(
    version: int, rows: list[tuple[Inspection, Feedback | None]], station: Station, rules: StationRules
) -> dict[str, Any]:
    agree = [i for i, _ in rows if i.shadow and i.shadow["outcome"] == AGREE]
    disagree = [i for i, _ in rows if i.shadow and i.shadow["outcome"] == DISAGREE]
    verified = [
        {"truth": truth_of(i, f, rules), "live": live_answer(i, station.mode), "shadow": i.shadow}
        for i, f in rows
        if f is not None
    ]
    classes = counted_classes(verified, rules)
    return {
        "shadow_version": version,
        "live_versions": sorted({i.model_version for i, _ in rows if i.model_version is not None}),
        "answered": len(agree) + len(disagree),
        "agree": len(agree),
        "disagree": len(disagree),
        "agreement": _ratio(len(agree), len(agree) + len(disagree)),
        "verified": len(verified),
        "live": score(verified, "live", rules, classes),
        "shadow": score(verified, "shadow", rules, classes),
        "disagreements": [
            {
                "inspection_id": str(i.id),
                "created_at": i.created_at.isoformat(),
                "live": live_answer(i, station.mode),
                "shadow": {k: i.shadow.get(k) for k in ("verdict", "confidence", "counts", "class")},
            }
            for i in disagree[:MAX_DISAGREEMENTS]
            if i.shadow
        ],
    }


def report(station: Station, rows: list[tuple[Inspection, Feedback | None]]) -> dict[str, Any]:
    """The figures of `rows` (shadowed), judged by the station's rules as they are now."""
    rules = rules_of(station)
    failed = [i for i, _ in rows if i.shadow and i.shadow["outcome"] == FAILED]
    by_version: dict[int, list[tuple[Inspection, Feedback | None]]] = {}
    for inspection, feedback in rows:
        if inspection.shadow and inspection.shadow["outcome"] in (AGREE, DISAGREE):
            by_version.setdefault(int(inspection.shadow["version"]), []).append((inspection, feedback))
    versions = [_version_figures(v, by_version[v], station, rules) for v in sorted(by_version, reverse=True)]
    answered = sum(v["answered"] for v in versions)
    agree = sum(v["agree"] for v in versions)
    return {
        "station_id": str(station.id),
        "station": station.name,
        "model_name": station.model_name,
        "live_alias": station.model_alias,
        "shadow_alias": station.shadow_alias,
        "inspections": len(rows),
        "answered": answered,
        "agree": agree,
        "disagree": answered - agree,
        "agreement": _ratio(agree, answered),
        "failed": len(failed),
        "last_error": failed[0].shadow.get("error") if failed and failed[0].shadow else None,
        "versions": versions,
    }
