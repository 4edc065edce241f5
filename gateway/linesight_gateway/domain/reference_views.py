"""The stations' reference photos as the small grayscale views the unusual-photo check compares with,
read from object storage once per reference (a new reference photo gets a new key)."""

from __future__ import annotations

import io
import logging
import threading
from collections import OrderedDict

import numpy as np
from PIL import Image

from linesight_core.photo_stats import view
from linesight_core.storage import ObjectNotFound, ObjectStore

log = logging.getLogger(__name__)
MAX_VIEWS = 256  # 19 200 floats each: a few MB for every station a gateway serves


class ReferenceViews:
    def __init__(self, store: ObjectStore, bucket: str) -> None:
        self._store, self._bucket = store, bucket
        self._views: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str | None) -> np.ndarray | None:
        """The view of the reference photo under `key`; None when there is none or it cannot be read
        (the check then runs without it rather than failing the inspection)."""
        if key is None:
            return None
        with self._lock:
            if key in self._views:
                self._views.move_to_end(key)
                return self._views[key]
        try:
            with Image.open(io.BytesIO(self._store.get_bytes(self._bucket, key))) as img:
                ref = view(img)
        except (ObjectNotFound, OSError, ValueError):
            log.warning("reference photo unreadable; checking without it", extra={"key": key})
            return None
        with self._lock:
            self._views[key] = ref
            while len(self._views) > MAX_VIEWS:
                self._views.popitem(last=False)
        return ref
