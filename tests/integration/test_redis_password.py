"""Redis behind a password, as compose runs it (`--requirepass`, URLs redis://:password@redis:6379/0):
a client without the password is refused, and every Redis client the services build (events, the
promotion watcher, the registry's training queue, the worker's Celery app and broker check) gets in
with the password from its URL alone."""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import uuid

import pytest
import redis
import redis.asyncio as aioredis
from redis.backoff import NoBackoff
from redis.retry import Retry

from linesight_core.contracts.training import TRAINING_QUEUE
from linesight_core.events import MODEL_PROMOTED, check_redis, make_redis, publish
from linesight_devstack import RedisServer
from linesight_registry.domain.queue import TrainingQueue
from linesight_registry.settings import RegistrySettings
from linesight_training.main import create_celery_app
from linesight_training.settings import TrainingSettings
from tests.conftest import shared_tmp_dir


@pytest.fixture(scope="module")
def locked_redis():
    folder = shared_tmp_dir("linesight-test-redis-auth-")
    with RedisServer(folder / "redis", password=secrets.token_hex(32)) as server:
        yield server
    shutil.rmtree(folder, ignore_errors=True)


def test_a_client_without_the_password_can_neither_read_the_queue_nor_send_events(locked_redis):
    # no retries: redis-py would otherwise retry each refusal with back-off
    stranger = redis.Redis(
        host="127.0.0.1", port=locked_redis.port, socket_timeout=3, retry=Retry(NoBackoff(), 0)
    )
    with pytest.raises(redis.AuthenticationError):
        stranger.ping()
    with pytest.raises(redis.AuthenticationError):
        stranger.publish(MODEL_PROMOTED, json.dumps({"model": "forged"}))
    with pytest.raises(redis.AuthenticationError):
        stranger.lrange(TRAINING_QUEUE, 0, -1)
    guesser = redis.Redis(
        host="127.0.0.1",
        port=locked_redis.port,
        password="guess",
        socket_timeout=3,
        retry=Retry(NoBackoff(), 0),
    )
    with pytest.raises(redis.AuthenticationError):
        guesser.ping()
    # the password is in a 0600 file, not on the command line that `ps` shows every local user
    assert locked_redis.password not in " ".join(locked_redis.command())
    assert locked_redis.config_path.stat().st_mode & 0o077 == 0


def test_every_service_client_connects_with_the_password_from_its_url(locked_redis):
    url = locked_redis.client_url
    assert url.startswith("redis://:") and "@127.0.0.1:" in url

    events = make_redis(url)
    check_redis(events)  # inference's and registry's /ready
    assert publish(events, MODEL_PROMOTED, {"model": "m", "alias": "production"}) == 0

    async def watcher_ping() -> bool:  # inference's promotion watcher uses the asyncio client
        client = aioredis.Redis.from_url(url, socket_connect_timeout=3)
        try:
            return bool(await client.ping())
        finally:
            await client.aclose()

    assert asyncio.run(watcher_ping())

    registry = RegistrySettings(redis_url=url)
    queue = TrainingQueue(registry.broker_url)
    try:
        queue.send("linesight.train", uuid.uuid4(), str(uuid.uuid4()), 60)
    finally:
        queue.close()
    assert events.llen(TRAINING_QUEUE) == 1, "the registry's task did not reach the queue"

    worker = TrainingSettings(redis_url=url)
    app = create_celery_app(worker)
    try:
        with app.connection_for_read() as connection:
            connection.ensure_connection(max_retries=1)
    finally:
        app.close()
    check_redis(make_redis(worker.broker_url, timeout=2.0))  # the worker's /ready
    events.close()
