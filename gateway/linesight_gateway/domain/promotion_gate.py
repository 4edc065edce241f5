"""The promotion gate: whether `production` of a model may move to a version, judged by the version's
latest completed replay of verified history at each gated station against the version in production.

A gate is a row of `promotion_gates` (a station's, or a model's for every station serving its
production). A version passes when, at every gated station, its latest completed replay against the
current production version replayed at least `min_verified` inspections and is at least as good as
production on verdict accuracy and on NOK recall.

TODO(issue 15, point 2): the optional shadow-period requirement (live agreement with production over a
period) belongs here as one more rule once shadow answers are stored next to live ones."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from linesight_gateway.db.models import PromotionGate, ReplayJob, Station

GUARDED_ALIAS = "production"
EPSILON = 1e-9  # both sides are ratios of the same counts: equal figures must compare equal

# The rules a version can fail, named in the 409 problem (`failed_rules`) and in the audit log.
NO_STATION = "no_station"
NO_REPLAY = "no_replay"
TOO_FEW_VERIFIED = "too_few_verified"
VERDICT_ACCURACY = "verdict_accuracy"
NOK_RECALL = "nok_recall"


@dataclass
class StationCheck:
    station_id: uuid.UUID
    station: str
    min_verified: int
    replay_id: uuid.UUID | None = None
    verified: int = 0
    candidate: dict[str, Any] | None = None
    production: dict[str, Any] | None = None
    failed_rules: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def fail(self, rule: str, reason: str) -> None:
        self.failed_rules.append(rule)
        self.reasons.append(reason)

    def as_json(self) -> dict[str, Any]:
        return {
            "station_id": str(self.station_id),
            "station": self.station,
            "min_verified": self.min_verified,
            "replay_id": str(self.replay_id) if self.replay_id else None,
            "verified": self.verified,
            "candidate": self.candidate,
            "production": self.production,
            "passed": not self.failed_rules,
            "failed_rules": self.failed_rules,
            "reasons": self.reasons,
        }


@dataclass
class GateVerdict:
    model_name: str
    version: int
    production_version: int | None
    gated: bool
    checks: list[StationCheck] = field(default_factory=list)
    failed_rules: list[str] = field(default_factory=list)  # of the gate as a whole (no station)
    reasons: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failed_rules and all(not c.failed_rules for c in self.checks)

    def all_failed_rules(self) -> list[str]:
        rules = list(self.failed_rules)
        for check in self.checks:
            rules += [r for r in check.failed_rules if r not in rules]
        return rules

    def as_json(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "version": self.version,
            "production_version": self.production_version,
            "gated": self.gated,
            "passed": self.passed,
            "failed_rules": self.all_failed_rules(),
            "reasons": self.reasons,
            "stations": [c.as_json() for c in self.checks],
        }

    def words(self) -> str:
        """The refusal in words: what was compared, and each rule that failed."""
        head = (
            f"The promotion gate refuses to move {self.model_name} {GUARDED_ALIAS} from version "
            f"{self.production_version} to version {self.version}"
        )
        parts = list(self.reasons)
        for check in self.checks:
            if check.failed_rules:
                parts.append(f"at station {check.station}: " + "; ".join(check.reasons))
        return (
            f"{head}. {' '.join(p[0].upper() + p[1:] + '.' for p in parts)} Replay the version at the gated "
            "stations (POST /api/v1/stations/{id}/replays) or, as an admin, override with override_reason."
        )


def gates_of(session: Session, model_name: str) -> list[PromotionGate]:
    return list(
        session.scalars(
            select(PromotionGate)
            .where(PromotionGate.model_name == model_name)
            .order_by(PromotionGate.created_at, PromotionGate.id)
        )
    )


def serving_stations(session: Session, model_name: str) -> list[Station]:
    """The active stations whose live answers come from the model's production version."""
    return list(
        session.scalars(
            select(Station)
            .where(
                Station.model_name == model_name,
                Station.model_alias == GUARDED_ALIAS,
                Station.active.is_(True),
            )
            .order_by(Station.name)
        )
    )


def judged_stations(
    session: Session, model_name: str, gates: list[PromotionGate]
) -> list[tuple[Station, int]]:
    """Each station the gates judge by, with the most verified inspections any of its gates asks for. A
    station's own gate counts only while the station serves the model's production."""
    needs: dict[uuid.UUID, tuple[Station, int]] = {}

    def need(station: Station, minimum: int) -> None:
        known = needs.get(station.id)
        needs[station.id] = (station, max(minimum, known[1] if known else 0))

    serving = serving_stations(session, model_name)
    serving_ids = {s.id for s in serving}
    for gate in gates:
        if gate.station_id is None:
            for station in serving:
                need(station, gate.min_verified)
        elif gate.station_id in serving_ids:
            need(next(s for s in serving if s.id == gate.station_id), gate.min_verified)
    return sorted(needs.values(), key=lambda pair: pair[0].name)


def latest_replay(
    session: Session, station_id: uuid.UUID, model_name: str, version: int, production_version: int
) -> tuple[ReplayJob | None, ReplayJob | None]:
    """The version's latest completed replay at the station against the production version now, and (when
    there is none) its latest completed one against another production version."""
    stmt = (
        select(ReplayJob)
        .where(
            ReplayJob.station_id == station_id,
            ReplayJob.model_name == model_name,
            ReplayJob.model_version == version,
            ReplayJob.status == "completed",
        )
        .order_by(ReplayJob.finished_at.desc(), ReplayJob.id)
    )
    current = session.scalars(
        stmt.where(ReplayJob.baseline_name == model_name, ReplayJob.baseline_version == production_version)
    ).first()
    if current is not None:
        return current, None
    return None, session.scalars(stmt).first()


def _figure(value: Any) -> str:
    return "none" if value is None else f"{value:.4g}"


def _headline(side: dict[str, Any]) -> dict[str, Any]:
    keys = ("verified", "verdict_accuracy", "nok_recall", "false_nok_rate", "truly_nok", "truly_ok")
    return {k: side.get(k) for k in keys}


def judge_replay(check: StationCheck, job: ReplayJob, production_version: int) -> None:
    """Apply the rules to one completed replay."""
    result = job.result or {}
    candidate, production = result.get("candidate") or {}, result.get("production") or {}
    check.replay_id = job.id
    check.verified = int(result.get("replayed") or 0)
    check.candidate, check.production = _headline(candidate), _headline(production)
    if check.verified < check.min_verified:
        check.fail(
            TOO_FEW_VERIFIED,
            f"replay {job.id} replayed {check.verified} verified inspections; the gate asks for at least "
            f"{check.min_verified}",
        )
    for rule, name in ((VERDICT_ACCURACY, "verdict accuracy"), (NOK_RECALL, "NOK recall")):
        mine, theirs = candidate.get(rule), production.get(rule)
        if theirs is None:
            continue  # no truly NOK inspection in the replay: NOK recall cannot be compared
        if mine is None or mine < theirs - EPSILON:
            check.fail(
                rule,
                f"{name} {_figure(mine)} is below production v{production_version}'s {_figure(theirs)} "
                f"(replay {job.id}, {check.verified} verified inspections)",
            )


def evaluate(session: Session, model_name: str, version: int, production_version: int | None) -> GateVerdict:
    """Whether production of `model_name` may move from `production_version` to `version`."""
    gates = gates_of(session, model_name)
    verdict = GateVerdict(model_name, version, production_version, gated=bool(gates))
    if not gates or production_version is None or production_version == version:
        # Nothing to guard, nothing in production to compare with (the first promotion), or no move.
        return verdict
    stations = judged_stations(session, model_name, gates)
    if not stations:
        verdict.failed_rules.append(NO_STATION)
        verdict.reasons.append(
            f"no active station serves {model_name} under {GUARDED_ALIAS} now, so no replay of verified "
            "history can vouch for the version"
        )
    for station, minimum in stations:
        check = StationCheck(station.id, station.name, minimum)
        verdict.checks.append(check)
        job, other = latest_replay(session, station.id, model_name, version, production_version)
        if job is not None:
            judge_replay(check, job, production_version)
        elif other is not None:
            check.fail(
                NO_REPLAY,
                f"version {version}'s latest completed replay ({other.id}) compared it with version "
                f"{other.baseline_version}, not with version {production_version} in production now; "
                "replay it again",
            )
        else:
            check.fail(NO_REPLAY, f"version {version} has no completed replay there")
    return verdict
