"""Moving `production` through the promotion gate: the gate's verdict for a person's alias move, and the
auto-promotion the registry left to the gate (a training run that asked for it on a gated model only
staged its version; once a replay of that version completes and the gate passes, production moves).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from linesight_core.clients.errors import UpstreamError
from linesight_core.clients.registry import RegistryClient
from linesight_core.contracts.training import TrainingRunOut
from linesight_core.errors import Problem, problem_type
from linesight_gateway.db.models import ReplayJob
from linesight_gateway.domain import audit
from linesight_gateway.domain.promotion_gate import GUARDED_ALIAS, GateVerdict, evaluate, gates_of

log = logging.getLogger(__name__)

PROBLEM_TYPE = problem_type("promotion-gate")
GATE_ACTOR = "promotion-gate"


async def production_version(registry: RegistryClient, name: str) -> int | None:
    try:
        return (await registry.get_alias(name, GUARDED_ALIAS)).version
    except UpstreamError as exc:
        if exc.status != 404:
            raise
        return None


async def verdict_for_move(
    registry: RegistryClient, session: Session, name: str, alias: str, version: int
) -> GateVerdict | None:
    """The gate's verdict on moving `alias` of `name` to `version`; None when no gate applies."""
    if alias != GUARDED_ALIAS or not await run_in_threadpool(gates_of, session, name):
        return None
    await registry.resolve(name, version=version)  # an unknown version is 404, not a gate refusal
    current = await production_version(registry, name)
    return await run_in_threadpool(evaluate, session, name, version, current)


def refusal(verdict: GateVerdict) -> Problem:
    """The 409 of a refused promotion, carrying the figures."""
    return Problem(
        409,
        verdict.words(),
        title="Refused by the promotion gate",
        type_=PROBLEM_TYPE,
        failed_rules=verdict.all_failed_rules(),
        gate=verdict.as_json(),
    )


async def held_run(registry: RegistryClient, name: str, version: int | None = None) -> TrainingRunOut | None:
    """The newest training run of `name` (of `version`, when given) that asked for auto-promotion and was
    left staged by the gate."""
    resp = await registry.request(
        "GET", "/v1/training-runs", params={"model": name, "status": "succeeded", "limit": 100}
    )
    for item in resp.json()["items"]:
        run = TrainingRunOut.model_validate(item)
        if run.model_version is None or (version is not None and run.model_version != version):
            continue
        if run.auto_promote and run.staged and not run.promoted:
            return run
    return None


async def promote_if_passing(
    session_factory: sessionmaker[Session], registry: RegistryClient, job_id: uuid.UUID
) -> dict[str, Any] | None:
    """After a replay completed: if its version waits for the gate to auto-promote it, is still what
    `staging` points at, and now passes the gate, move production to it. Returns the audit details."""
    with session_factory() as session:
        job = session.get(ReplayJob, job_id)
        if job is None or job.status != "completed" or not gates_of(session, job.model_name):
            return None
        name, version = job.model_name, job.model_version
    run = await held_run(registry, name, version)
    if run is None:
        return None
    model = await registry.get_model(name)
    current = model.aliases.get(GUARDED_ALIAS)
    if model.aliases.get("staging") != version or current == version:
        return None  # a later run was staged since, or production is there already
    with session_factory() as session:
        verdict = evaluate(session, name, version, current)
    if not verdict.passed:
        log.info(
            "auto-promotion held by the promotion gate",
            extra={"model": name, "version": version, "rules": verdict.all_failed_rules()},
        )
        return None
    await registry.request(
        "PUT",
        f"/v1/models/{name}/aliases/{GUARDED_ALIAS}",
        json={
            "version": version,
            "moved_by": GATE_ACTOR,
            "reason": f"training run {run.id} asked for auto-promotion; replay {job_id} passed the "
            "promotion gate",
        },
        actor=GATE_ACTOR,
    )
    details = {
        "alias": GUARDED_ALIAS,
        "version": version,
        "from_version": current,
        "training_run": str(run.id),
        "replay": str(job_id),
        "gate": verdict.as_json(),
    }
    with session_factory() as session:
        audit.record(session, None, "model.auto_promote", "model", name, details)
        session.commit()
    log.info("auto-promoted through the promotion gate", extra={"model": name, "version": version})
    return details
