"""A short-lived in-process cache of authenticated keys: most requests skip the database round trip.
A key revoked through this replica is dropped at once; other replicas notice within the TTL."""

from __future__ import annotations

import threading
import time

from linesight_gateway.domain.access import Principal, hash_key


class KeyCache:
    def __init__(self, ttl_seconds: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._entries: dict[str, tuple[Principal, float]] = {}
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
            if expires < time.monotonic():
                del self._entries[digest]
                return None
            return principal

    def put(self, raw: str, principal: Principal) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[hash_key(raw)] = (principal, time.monotonic() + self.ttl)

    def forget_key(self, key_id: object) -> None:
        with self._lock:
            for digest in [d for d, (p, _) in self._entries.items() if p.key_id == key_id]:
                del self._entries[digest]
