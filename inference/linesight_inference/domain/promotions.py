"""Hot reload triggers: the registry's promotion events on Redis, and a periodic re-check of every served
alias in case an event was missed (Redis down, a replica starting while the event was sent)."""

from __future__ import annotations

import asyncio
import json
import logging

import redis.asyncio as aioredis
from pydantic import ValidationError

from linesight_core.contracts.registry import ModelPromoted
from linesight_core.events import MODEL_PROMOTED
from linesight_inference import metrics
from linesight_inference.domain.pool import ModelPool

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 10.0


class PromotionWatcher:
    """Runs two background tasks for a pool: the Redis subscriber and the periodic check."""

    def __init__(self, pool: ModelPool, redis_url: str, *, check_seconds: float) -> None:
        self.pool = pool
        self.redis_url = redis_url
        self.check_seconds = check_seconds
        self.subscribed = asyncio.Event()  # set while the subscription is live (tests and logs use it)
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._subscribe_forever(), name="promotion-events"))
        if self.check_seconds > 0:
            self._tasks.append(loop.create_task(self._check_forever(), name="promotion-check"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    def handle(self, data: bytes | str) -> None:
        """One message from the channel."""
        try:
            event = ModelPromoted.model_validate(json.loads(data))
        except (ValueError, ValidationError) as exc:
            metrics.PROMOTION_EVENTS.labels("invalid").inc()
            log.warning("promotion event not understood", extra={"error": str(exc)[:200]})
            return
        served = self.pool.note_promotion(event.model_name, event.alias)
        metrics.PROMOTION_EVENTS.labels("reload" if served else "ignored").inc()
        log.info(
            "promotion event",
            extra={
                "model": event.model_name,
                "alias": event.alias,
                "version": event.version,
                "served_here": served,
            },
        )

    async def _subscribe_forever(self) -> None:
        backoff = 0.5
        while True:
            client = aioredis.Redis.from_url(
                self.redis_url, socket_connect_timeout=3, health_check_interval=15
            )
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(MODEL_PROMOTED)
                self.subscribed.set()
                log.info("subscribed to promotion events", extra={"channel": MODEL_PROMOTED})
                if backoff > 0.5:
                    # Reconnected after an outage: events sent meanwhile are lost, so check now.
                    self._tasks.append(asyncio.get_running_loop().create_task(self.pool.check_all()))
                backoff = 0.5
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self.handle(message["data"])
                raise ConnectionError("the subscription ended")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - Redis went away: retry with backoff, keep serving
                self.subscribed.clear()
                log.warning(
                    "promotion events unavailable; reconnecting",
                    extra={"error": f"{type(exc).__name__}: {exc}"[:300], "retry_in_s": backoff},
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
            finally:
                self.subscribed.clear()
                await _quietly_close(pubsub, client)

    async def _check_forever(self) -> None:
        while True:
            await asyncio.sleep(self.check_seconds)
            await self.pool.check_all()


async def _quietly_close(pubsub: aioredis.client.PubSub, client: aioredis.Redis) -> None:
    try:
        await pubsub.aclose()
        await client.aclose()
    except Exception:  # noqa: BLE001, S110 - closing a connection that is already broken
        pass
