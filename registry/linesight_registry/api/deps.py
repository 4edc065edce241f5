"""Request-scoped dependencies of the registry API."""

from __future__ import annotations

import logging
from typing import Annotated

import redis
from fastapi import Depends, Request
from sqlalchemy.orm import Session

from linesight_core.app import app_state
from linesight_core.clients.registry import ACTOR_HEADER, decode_actor
from linesight_core.contracts.registry import ModelPromoted
from linesight_core.db import request_session
from linesight_core.events import MODEL_PROMOTED, publish
from linesight_core.storage import ObjectStore
from linesight_registry.domain.queue import TrainingQueue
from linesight_registry.settings import RegistrySettings

log = logging.getLogger(__name__)


def actor(request: Request) -> str:
    """Who asked, as the calling service says (the gateway passes the API key's name)."""
    return decode_actor(request.headers.get(ACTOR_HEADER, ""))[:100]


class Publisher:
    def __init__(self, request: Request) -> None:
        self.redis = request.app.state.redis

    def __call__(self, event: ModelPromoted) -> None:
        # The move is already committed; a lost event is caught up by inference's periodic check.
        try:
            publish(self.redis, MODEL_PROMOTED, event.model_dump(mode="json"))
        except redis.RedisError as exc:
            log.warning("model.promoted not published", extra={"model": event.model_name, "error": str(exc)})


SessionDep = Annotated[Session, Depends(request_session, scope="function")]
StoreDep = Annotated[ObjectStore, Depends(app_state("store"))]
SettingsDep = Annotated[RegistrySettings, Depends(app_state("settings"))]
ActorDep = Annotated[str, Depends(actor)]
PublisherDep = Annotated[Publisher, Depends(Publisher)]
QueueDep = Annotated[TrainingQueue, Depends(app_state("training_queue"))]
