"""What this replica serves: the model versions in memory, their aliases and how much they answered."""

from __future__ import annotations

from fastapi import APIRouter, Request

from linesight_core.contracts.inference import LoadedModel

router = APIRouter(prefix="/v1", tags=["models"])


@router.get(
    "/models",
    response_model=list[LoadedModel],
    summary="Model versions loaded on this replica",
    description="A version is loaded by the first request that needs it and released when the alias it "
    "served moves on (after its requests drain) or when it is the least recently used one past "
    "LINESIGHT_MAX_LOADED_MODELS.",
)
async def loaded_models(request: Request) -> list[LoadedModel]:
    return request.app.state.pool.loaded()
