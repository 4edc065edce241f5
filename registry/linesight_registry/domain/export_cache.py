"""Exports cached in object storage: a version is immutable, so its YOLO zip is built once, streamed
straight into the datasets bucket (no temp file, nothing held whole in memory), and every later export
streams the stored zip."""

from __future__ import annotations

import os
import threading
import uuid
from typing import Any

from linesight_core.storage import ObjectStore

PREFIX = "exports"


def export_key(version_id: uuid.UUID) -> str:
    return f"{PREFIX}/{version_id}.zip"


class _PipeReader:
    """The read end of the pipe the zip is written into; at its end it raises what the writer raised,
    so a failed build aborts the upload instead of storing half a zip."""

    def __init__(self, fd: int, writer: _ZipWriter) -> None:
        self.raw = os.fdopen(fd, "rb")
        self.writer = writer

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        if not data:
            self.writer.join()
            if self.writer.error is not None:
                raise self.writer.error
        return data

    def close(self) -> None:
        self.raw.close()


class _ZipWriter(threading.Thread):
    def __init__(self, fd: int, build: Any) -> None:
        super().__init__(name="dataset-export", daemon=True)
        self.fd = fd
        self.build = build
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with os.fdopen(self.fd, "wb") as out:
                self.build(out)
        except BaseException as exc:  # noqa: BLE001 - handed to the reader, which raises it
            self.error = exc


def build_once(store: ObjectStore, bucket: str, key: str, build: Any) -> None:
    """Store what `build(out)` writes under `key`, unless it is stored already. Two first exports at once
    both build; the bytes are the same (a version always exports to the same zip)."""
    if store.exists(bucket, key):
        return
    read_fd, write_fd = os.pipe()
    writer = _ZipWriter(write_fd, build)
    reader = _PipeReader(read_fd, writer)
    writer.start()
    try:
        store.put_stream(bucket, key, reader, content_type="application/zip")  # type: ignore[arg-type]
    finally:
        reader.close()  # a writer still writing gets EPIPE and stops
        writer.join()
