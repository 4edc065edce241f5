"""Redis connections and the platform's events (JSON on Redis pub/sub channels)."""

from __future__ import annotations

import json
from typing import Any

import redis

MODEL_PROMOTED = "linesight.model.promoted"


def make_redis(url: str, *, timeout: float = 3.0) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=30,
        decode_responses=False,
    )


def check_redis(client: redis.Redis) -> None:
    """Readiness probe: raises when Redis does not answer."""
    client.ping()


def publish(client: redis.Redis, channel: str, payload: dict[str, Any]) -> int:
    """Publish one event; returns how many subscribers received it."""
    return int(client.publish(channel, json.dumps(payload, default=str)))
