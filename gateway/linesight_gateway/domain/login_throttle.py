"""Failed sign-ins, counted per username and per client address over a sliding window: past the limit,
the next attempt is refused (429 with Retry-After) before the password is even checked.

In-process, like the key cache: each gateway replica counts its own failures (a guesser spread over N
replicas gets N times the limit, still a few dozen guesses an hour)."""

from __future__ import annotations

import math
import threading
import time
from collections import deque


class LoginThrottle:
    def __init__(
        self, *, per_user: int, per_address: int, window_seconds: float, max_tracked: int = 50_000
    ) -> None:
        self.limits = {"user": per_user, "address": per_address}
        self.window = window_seconds
        self.max_tracked = max_tracked
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def retry_after(self, username: str, address: str) -> int | None:
        """Seconds until this username (or address) may try again; None: it may try now."""
        now = time.monotonic()
        wait = 0.0
        with self._lock:
            for kind, value in (("user", username), ("address", address)):
                times = self._recent((kind, value), now)
                limit = self.limits[kind]
                if limit > 0 and len(times) >= limit:
                    wait = max(wait, times[-limit] + self.window - now)
        return max(1, math.ceil(wait)) if wait > 0 else None

    def failed(self, username: str, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._failures) >= self.max_tracked:
                self._failures.clear()  # a flood of distinct names: forget rather than grow without bound
            for key in (("user", username), ("address", address)):
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(("user", username), None)
