"""Health of the whole system, as the UI's home screen shows it."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request

from linesight_core.app import check_readiness
from linesight_core.contracts.system import ServicesStatus, ServiceStatus
from linesight_gateway.api.deps import ReadinessDep, SettingsDep, StatusClientDep, Viewer
from linesight_gateway.domain.service_probe import probe_services

router = APIRouter(prefix="/api/v1/system", tags=["system"])


@router.get("/services", response_model=ServicesStatus, summary="Readiness of every LineSight service")
async def services_status(
    request: Request,
    principal: Viewer,
    settings: SettingsDep,
    readiness: ReadinessDep,
    status_client: StatusClientDep,
) -> ServicesStatus:
    own = await check_readiness(readiness)
    failed = sorted(n for n, r in own.items() if not r["ok"])
    gateway = ServiceStatus(
        name="gateway",
        url=str(request.base_url).rstrip("/"),
        status="not_ready" if failed else "ready",
        detail=f"Not ready: {', '.join(failed)} did not answer." if failed else "",
        checks=own,
    )
    others = await probe_services(
        status_client,
        {
            "registry": settings.registry_url,
            "inference": settings.inference_url,
            "ocr-service": settings.ocr_url,
            "training-worker": settings.training_worker_url,
        },
    )
    return ServicesStatus(
        services=[gateway, *(ServiceStatus.model_validate(o) for o in others)], checked_at=datetime.now(UTC)
    )
