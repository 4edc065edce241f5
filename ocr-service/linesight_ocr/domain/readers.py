"""Label reads in worker processes. Tesseract and zxing-cpp are C++ libraries loaded into the reading
process: an abort inside one of them on some photo ends that process. In a worker it ends the reads in
flight there (answered 503) and the pool starts again; the service and its other requests live on.
Each worker loads its engines, the vendor profiles and the token model once, and reads one label at a
time; `workers` of them read at once."""

from __future__ import annotations

import logging
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from PIL import Image

from linesight_core.contracts.ocr import LabelRead
from linesight_ocr import metrics
from linesight_ocr.domain import engine
from linesight_ocr.domain.label import ReadOptions, TokenScorer, read_label
from linesight_ocr.domain.vendors import load_profiles

log = logging.getLogger(__name__)


class ReaderCrashed(RuntimeError):
    """The worker process reading the label ended (a crash inside Tesseract or the barcode decoder)."""


_worker: dict[str, Any] = {}


def _start_worker(tessdata: str, token_model: str) -> None:
    engine.configure(tessdata, 1)
    _worker["profiles"] = load_profiles()
    scorer: TokenScorer | None = None
    if token_model and Path(token_model).is_file():
        from linesight_ocr.classifier.model import TokenModel

        scorer = TokenModel.load(Path(token_model)).scores
    _worker["scorer"] = scorer


def _read(
    image: Image.Image, options: ReadOptions, vendor_hint: str | None, decode_ms: float
) -> tuple[LabelRead, list[str], float]:
    before = metrics.GLYPH_CORRECTIONS._value.get()
    read, agreement = read_label(
        image, options, _worker["profiles"], vendor_hint, decode_ms, _worker["scorer"]
    )
    return read, agreement, metrics.GLYPH_CORRECTIONS._value.get() - before


def _ping() -> int:
    return multiprocessing.current_process().pid or 0


class ReaderPool:
    def __init__(self, workers: int, tessdata: str = "", token_model: str = "") -> None:
        self.workers = max(1, workers)
        self._args = (tessdata, token_model)
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None

    def _current(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ProcessPoolExecutor(
                    max_workers=self.workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start_worker,
                    initargs=self._args,
                )
            return self._executor

    def warm(self) -> list[int]:
        """Starts the workers (imports, engines, profiles) before the first label; their process ids."""
        executor = self._current()
        return sorted({f.result() for f in [executor.submit(_ping) for _ in range(self.workers)]})

    def pids(self) -> list[int]:
        executor = self._executor
        return sorted(executor._processes) if executor is not None else []

    def read(
        self, image: Image.Image, options: ReadOptions, vendor_hint: str | None, decode_ms: float
    ) -> tuple[LabelRead, list[str]]:
        executor = self._current()
        try:
            future = executor.submit(_read, image, options, vendor_hint, decode_ms)
        except BrokenProcessPool:  # a reader ended before this label came: start them again
            self._discard(executor)
            executor = self._current()
            future = executor.submit(_read, image, options, vendor_hint, decode_ms)
        try:
            read, agreement, glyphs = future.result()
        except BrokenProcessPool as exc:
            self._discard(executor)
            log.error("a label reader process ended while reading; readers restart")
            raise ReaderCrashed("the OCR engine stopped while reading this image") from exc
        metrics.GLYPH_CORRECTIONS.inc(glyphs)
        return read, agreement

    def _discard(self, executor: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._executor is executor:
                self._executor = None  # the next read starts a new pool
        executor.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
