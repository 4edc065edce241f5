"""A short-lived in-process cache of authenticated keys and session tokens: most requests skip the
database round trip.

A key or session revoked through this gateway is refused here at once, and for good: its id is remembered, so a
request that read the key from the database just before the revocation was committed cannot put it back
into the cache. Other gateway replicas (they share no cache; the gateway uses no Redis) notice a
revocation within LINESIGHT_API_KEY_CACHE_SECONDS."""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from datetime import UTC, datetime

from linesight_gateway.domain.access import Principal, hash_key


class KeyCache:
    def __init__(self, ttl_seconds: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._entries: dict[str, tuple[Principal, float]] = {}
        # Ids of keys revoked through this process, oldest first; revocation is final, so a bounded
        # memory of them is all the race needs (a read racing a revocation lasts milliseconds).
        self._revoked: OrderedDict[uuid.UUID, None] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, raw: str) -> Principal | None:
        if self.ttl <= 0:
            return None
        digest = hash_key(raw)
        with self._lock:
            hit = self._entries.get(digest)
            if hit is None:
                return None
            principal, expires = hit
            ended = principal.expires_at is not None and principal.expires_at <= datetime.now(UTC)
            if expires < time.monotonic() or ended or principal.credential_id in self._revoked:
                del self._entries[digest]
                return None
            return principal

    def put(self, raw: str, principal: Principal) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            if principal.credential_id in self._revoked:
                return
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[hash_key(raw)] = (principal, time.monotonic() + self.ttl)

    def forget_key(self, credential_id: uuid.UUID) -> None:
        """The key (or session: its id) was revoked: drop it, and never cache it again."""
        with self._lock:
            self._revoked[credential_id] = None
            while len(self._revoked) > self.max_entries:
                self._revoked.popitem(last=False)
            for digest in [d for d, (p, _) in self._entries.items() if p.credential_id == credential_id]:
                del self._entries[digest]

    def drop_person(self, user_id: uuid.UUID) -> None:
        """The person's role, scope or name changed: their next request reads them from the database."""
        with self._lock:
            for digest in [d for d, (p, _) in self._entries.items() if p.is_person and p.key_id == user_id]:
                del self._entries[digest]
