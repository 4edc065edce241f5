"""Health of every LineSight service, asked concurrently with a short timeout."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import httpx


async def probe_service(client: httpx.AsyncClient, name: str, base_url: str) -> dict[str, Any]:
    start = time.perf_counter()
    entry: dict[str, Any] = {"name": name, "url": base_url}
    try:
        resp = await client.get(f"{base_url.rstrip('/')}/ready")
    except httpx.HTTPError as exc:
        entry.update(status="unreachable", detail=f"{type(exc).__name__}: {exc}"[:300], checks={})
        return entry
    entry["latency_ms"] = round((time.perf_counter() - start) * 1000, 1)
    try:
        body = resp.json()
    except ValueError:
        body = {}
    entry["checks"] = body.get("checks", {}) if isinstance(body, dict) else {}
    if resp.status_code == 200:
        entry.update(status="ready", detail="")
    else:
        detail = body.get("detail") if isinstance(body, dict) else None
        entry.update(status="not_ready", detail=detail or f"/ready answered {resp.status_code}")
    return entry


async def probe_services(client: httpx.AsyncClient, services: Mapping[str, str]) -> list[dict[str, Any]]:
    return list(await asyncio.gather(*(probe_service(client, n, u) for n, u in services.items())))
