"""Tesseract inside the service process (tesserocr): each configuration's engines stay loaded between
reads, so a read pays for recognition only, not for starting a `tesseract` process and loading its
models each time (about 70 ms of a 140 ms pass on a label). A bounded pool holds the engines: at most
`workers` reads run at once, and each engine serves one read at a time (Tesseract's API objects are
not thread-safe)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import tesserocr
from PIL import Image

# Where distributions install Tesseract's language data; TESSDATA_PREFIX, when set, is looked at first.
TESSDATA_CANDIDATES = (
    "/usr/share/tesseract-ocr/5/tessdata",
    "/usr/share/tesseract-ocr/4.00/tessdata",
    "/usr/share/tessdata",
    "/usr/local/share/tessdata",
    "/opt/homebrew/share/tessdata",
)
PSM = tesserocr.PSM


class TesseractUnavailable(RuntimeError):
    """Tesseract cannot be loaded, or lacks the language data the service is configured for."""


class TesseractTimeout(RuntimeError):
    """A recognition ran past its time limit and was cancelled."""


@dataclass(frozen=True)
class TesseractInfo:
    version: str
    tessdata: str
    languages: tuple[str, ...]  # every language whose data is installed


def find_tessdata(configured: str = "") -> str:
    """The language-data folder: the configured one, else TESSDATA_PREFIX, else the first usual place
    that holds `eng.traineddata`."""
    if configured:
        if not Path(configured).is_dir():
            raise TesseractUnavailable(
                f"LINESIGHT_TESSDATA_DIR={configured} is not a folder; point it at Tesseract's tessdata."
            )
        return configured
    candidates = [os.environ.get("TESSDATA_PREFIX", ""), *TESSDATA_CANDIDATES]
    for folder in candidates:
        if folder and any(Path(folder).glob("*.traineddata")):
            return folder
    raise TesseractUnavailable(
        "no Tesseract language data found (looked in TESSDATA_PREFIX and "
        f"{', '.join(TESSDATA_CANDIDATES)}); install tesseract-ocr-eng or set LINESIGHT_TESSDATA_DIR."
    )


def inspect_tesseract(tessdata: str = "") -> TesseractInfo:
    folder = find_tessdata(tessdata)
    _, languages = tesserocr.get_languages(folder.rstrip("/") + "/")
    version = tesserocr.tesseract_version().split()[1]
    return TesseractInfo(version=version, tessdata=folder, languages=tuple(sorted(languages)))


def check_tesseract(tessdata: str, languages: Sequence[str]) -> TesseractInfo:
    """Readiness probe: the library loads and has data for every configured language (and `osd`,
    which finds a label's orientation)."""
    info = inspect_tesseract(tessdata)
    missing = [lang for lang in (*languages, "osd") if lang not in info.languages]
    if missing:
        raise TesseractUnavailable(
            f"language data missing for {', '.join(missing)} in {info.tessdata} (installed: "
            f"{', '.join(info.languages) or 'none'}); install tesseract-ocr-<lang> or change "
            "LINESIGHT_OCR_LANGUAGES."
        )
    return info


Variables = tuple[tuple[str, str], ...]


class EnginePool:
    """Loaded Tesseract engines by (languages, page segmentation, variables); at most `workers` in use."""

    def __init__(self, tessdata: str = "", workers: int | None = None) -> None:
        self.tessdata = tessdata
        self.workers = max(1, workers or os.cpu_count() or 1)
        self._slots = threading.BoundedSemaphore(self.workers)
        self._lock = threading.Lock()
        self._idle: dict[tuple[str, int, Variables], list[tesserocr.PyTessBaseAPI]] = {}
        self._folder: str | None = None

    def _create(self, lang: str, psm: int, variables: Variables) -> tesserocr.PyTessBaseAPI:
        if self._folder is None:
            self._folder = find_tessdata(self.tessdata).rstrip("/") + "/"
        try:
            api = tesserocr.PyTessBaseAPI(path=self._folder, lang=lang, psm=psm)
        except RuntimeError as exc:
            raise TesseractUnavailable(
                f"Tesseract could not load '{lang}' from {self._folder}: {exc}"
            ) from exc
        for name, value in variables:
            if not api.SetVariable(name, value):
                api.End()
                raise TesseractUnavailable(f"Tesseract has no variable {name!r}")
        return api

    @contextmanager
    def engine(self, lang: str, psm: int, variables: Variables = ()) -> Iterator[tesserocr.PyTessBaseAPI]:
        key = (lang, int(psm), variables)
        with self._slots:
            with self._lock:
                idle = self._idle.setdefault(key, [])
                api = idle.pop() if idle else None
            if api is None:
                api = self._create(lang, psm, variables)
            try:
                yield api
            finally:
                api.Clear()
                with self._lock:
                    self._idle[key].append(api)

    def close(self) -> None:
        with self._lock:
            for apis in self._idle.values():
                for api in apis:
                    api.End()
            self._idle.clear()


_pool = EnginePool()


def configure(tessdata: str = "", workers: int | None = None) -> EnginePool:
    """Sets the process's engine pool (the service does at start; tools and tests use the defaults)."""
    global _pool
    old, _pool = _pool, EnginePool(tessdata, workers)
    old.close()
    return _pool


def pool() -> EnginePool:
    return _pool


def recognise(
    api: tesserocr.PyTessBaseAPI, image: Image.Image, timeout: float, *, resolution: int = 70
) -> None:
    """Runs recognition on `image`, cancelled after `timeout` seconds. `resolution`: what the
    `tesseract` command assumes for an image that declares none."""
    api.SetImage(image)
    api.SetSourceResolution(resolution)
    if not api.Recognize(timeout=max(1, round(timeout * 1000))):
        raise TesseractTimeout(f"Tesseract did not finish reading the label within {timeout:g} s")


def text(api: tesserocr.PyTessBaseAPI) -> str:
    """The recognised text; empty when there is none (where tesserocr raises)."""
    try:
        return api.GetUTF8Text() or ""
    except RuntimeError:
        return ""


def words(api: tesserocr.PyTessBaseAPI) -> Iterator[tuple[str, tuple[int, int, int, int], float]]:
    """The recognised words: (text, box (x1, y1, x2, y2) in image pixels, confidence 0..100); words with
    no text, no box or no confidence are left out."""
    iterator = api.GetIterator()
    if iterator is None:
        return
    level = tesserocr.RIL.WORD
    for word in tesserocr.iterate_level(iterator, level):
        try:
            found = (word.GetUTF8Text(level) or "").strip()
        except RuntimeError:  # tesserocr's answer for a word with no text
            continue
        box = word.BoundingBox(level)
        confidence = word.Confidence(level)
        if found and box is not None and confidence >= 0:
            yield found, box, confidence


def hocr(image: Image.Image, languages: Sequence[str], psm: int, variables: Variables, timeout: float) -> str:
    """One recognition of `image`, as hOCR."""
    with pool().engine("+".join(languages), psm, variables) as api:
        recognise(api, image, timeout)
        return api.GetHOCRText(0)
