"""Label reads in reader processes. Tesseract and zxing-cpp are C++ libraries loaded into the reading
process: an abort inside one of them on some photo ends that process, and only the read it was doing
fails (503); a new reader takes its place. Each reader loads its engines, the vendor profiles and the
token model once, and reads one label at a time; `workers` of them read at once.

A read has one deadline, from the moment it is handed in: the reader keeps each recognition within what
is left and stops between steps once it has passed. A reader still busy shortly after the deadline
(stuck inside a C++ library), or whose caller has gone, is killed and replaced: a process is the one
thing that stops Tesseract in the middle of a recognition."""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import queue
import threading
import time
from dataclasses import replace
from multiprocessing.connection import Connection
from typing import Any

from PIL import Image

from linesight_core.contracts.ocr import LabelRead
from linesight_ocr import metrics
from linesight_ocr.domain import engine, rapid
from linesight_ocr.domain.read_label import ReadDeadlineExceeded, ReadOptions, read_label
from linesight_ocr.domain.vendors import load_profiles
from linesight_ocr.token_model import load_token_model

log = logging.getLogger(__name__)

# Past the deadline a reader gets this long to answer by itself before it is killed.
KILL_GRACE_SECONDS = 2.0
POLL_SECONDS = 0.05


class ReaderCrashed(RuntimeError):
    """The reader process ended while reading the label (a crash inside Tesseract or the barcode decoder)."""


class ReadCancelled(RuntimeError):
    """The caller went away; the read was stopped."""


_worker: dict[str, Any] = {}


def _start_worker(tessdata: str, token_model: str, rapid_config: tuple[str, int] | None) -> None:
    engine.configure(tessdata, 1)
    if rapid_config is not None:  # RapidOCR's three ONNX sessions, loaded once for every read here
        rapid.configure(*rapid_config)
        rapid.check()
    _worker["profiles"] = load_profiles()
    model = load_token_model(token_model)
    _worker["scorer"] = model.scores if model is not None else None


def _read(
    image: Image.Image, options: ReadOptions, vendor_hint: str | None, decode_ms: float, budget: float
) -> tuple[LabelRead, list[str], float]:
    # The deadline is set here, on this process's clock, from the time the read had left when handed over.
    options = replace(options, deadline=time.monotonic() + budget)
    before = metrics.GLYPH_CORRECTIONS._value.get()
    try:
        read, agreement = read_label(
            image, options, _worker["profiles"], vendor_hint, decode_ms, _worker["scorer"]
        )
    except rapid.RapidDeadline:
        raise ReadDeadlineExceeded("the read ran past its deadline") from None
    except engine.TesseractTimeout:
        if time.monotonic() >= options.deadline - 0.05:  # the recognition was cut to the deadline
            raise ReadDeadlineExceeded("the read ran past its deadline") from None
        raise
    return read, agreement, metrics.GLYPH_CORRECTIONS._value.get() - before


def _serve(conn: Connection, tessdata: str, token_model: str, rapid_config: tuple[str, int] | None) -> None:
    """A reader process: one job at a time from the pipe, its answer or its exception back."""
    _start_worker(tessdata, token_model, rapid_config)
    while True:
        try:
            kind, args = conn.recv()
        except (EOFError, OSError):  # the service closed the pipe: stop
            return
        try:
            answer: Any = multiprocessing.current_process().pid if kind == "ping" else _read(*args)
            conn.send(("ok", answer))
        except Exception as exc:  # noqa: BLE001 - every failure goes back to the caller
            try:
                conn.send(("error", exc))
            except Exception:  # noqa: BLE001 - an exception that does not pickle: its text
                conn.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))


class _Reader:
    def __init__(self, args: tuple[str, str, tuple[str, int] | None]) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(child, *args), daemon=True, name="label-reader")
        self.process.start()
        child.close()
        self.pid = self.process.pid or 0

    def stop(self, *, kill: bool) -> None:
        if kill:
            self.process.kill()
        with contextlib.suppress(OSError):
            self.conn.close()  # a reader left alone sees the pipe close and ends
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)


class ReaderPool:
    def __init__(
        self,
        workers: int,
        tessdata: str = "",
        token_model: str = "",
        deadline_seconds: float = 60.0,
        rapid_config: tuple[str, int] | None = ("auto", 1),
    ) -> None:
        """`rapid_config`: RapidOCR's (providers, threads), loaded in every reader; None: not loaded."""
        self.workers = max(1, workers)
        self.deadline_seconds = deadline_seconds
        self._args = (tessdata, token_model, rapid_config)
        self._lock = threading.Lock()
        self._idle: queue.Queue[_Reader] = queue.Queue()
        self._all: set[_Reader] = set()
        self._closed = False

    def warm(self) -> list[int]:
        """Starts the readers (imports, engines, profiles) before the first label; their process ids."""
        deadline = time.monotonic() + 120
        taken = [self._take(deadline, None) for _ in range(self.workers)]
        return sorted(self._call(reader, "ping", (), deadline, None) for reader in taken)

    def pids(self) -> list[int]:
        with self._lock:
            return sorted(r.pid for r in self._all)

    def read(
        self,
        image: Image.Image,
        options: ReadOptions,
        vendor_hint: str | None,
        decode_ms: float,
        cancelled: threading.Event | None = None,
    ) -> tuple[LabelRead, list[str]]:
        """Raises ReadDeadlineExceeded past the deadline (waiting for a free reader included),
        ReadCancelled when `cancelled` is set first, ReaderCrashed when the reader ended."""
        deadline = time.monotonic() + self.deadline_seconds
        reader = self._take(deadline, cancelled)
        budget = deadline - time.monotonic()
        read, agreement, glyphs = self._call(
            reader, "read", (image, options, vendor_hint, decode_ms, budget), deadline, cancelled
        )
        metrics.GLYPH_CORRECTIONS.inc(glyphs)
        return read, agreement

    def _call(
        self,
        reader: _Reader,
        kind: str,
        args: tuple[Any, ...],
        deadline: float,
        cancelled: threading.Event | None,
    ) -> Any:
        """One job on `reader`, which is free again afterwards: given back when it answered (a result or
        an exception), else killed and replaced."""
        try:
            reader.conn.send((kind, args))
            while not reader.conn.poll(POLL_SECONDS):
                if cancelled is not None and cancelled.is_set():
                    raise ReadCancelled("the caller went away")
                if time.monotonic() > deadline + KILL_GRACE_SECONDS:
                    raise ReadDeadlineExceeded("the read ran past its deadline and its reader was stopped")
            status, value = reader.conn.recv()
        except (EOFError, OSError, BrokenPipeError) as exc:
            reader.process.join(1)
            code = reader.process.exitcode  # negative: the signal that ended it (-9: killed, -11: a crash)
            self._replace(reader)
            log.error(
                "a label reader process ended while reading (exit code %s); a new one starts",
                code,
                extra={"pid": reader.pid, "exit_code": code},
            )
            raise ReaderCrashed("the OCR engine stopped while reading this image") from exc
        except BaseException:
            self._replace(reader)
            raise
        self._give_back(reader)
        if status == "error":
            raise value
        return value

    def _take(self, deadline: float, cancelled: threading.Event | None) -> _Reader:
        """A free reader: an idle one, a new one while fewer than `workers` exist, or the next freed."""
        with self._lock:
            if self._closed:
                raise ReaderCrashed("the OCR service is stopping")
            if len(self._all) < self.workers and self._idle.empty():
                reader = _Reader(self._args)
                self._all.add(reader)
                return reader
        while True:
            try:
                reader = self._idle.get(timeout=POLL_SECONDS)
            except queue.Empty:
                if cancelled is not None and cancelled.is_set():
                    raise ReadCancelled("the caller went away") from None
                if time.monotonic() > deadline:
                    raise ReadDeadlineExceeded("no reader was free before the deadline") from None
                continue
            if reader.process.is_alive():
                return reader
            self._replace(reader)  # it died between labels: its replacement is the next one free

    def _give_back(self, reader: _Reader) -> None:
        self._idle.put(reader)

    def _replace(self, reader: _Reader) -> None:
        reader.stop(kill=True)
        with self._lock:
            self._all.discard(reader)
            if self._closed:
                return
            new = _Reader(self._args)
            self._all.add(new)
        self._idle.put(new)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            readers, self._all = list(self._all), set()
        for reader in readers:
            reader.stop(kill=False)
