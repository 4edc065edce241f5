"""The second recognizer: PP-OCR (detection, angle classification, recognition) through
`rapidocr-onnxruntime`, whose wheel carries the three ONNX models, on ONNX Runtime. It is independent of
Tesseract (a neural detector and a CTC recogniser trained on other data), so where both read the same
value it is unlikely to be wrong.

One engine per process (the reader processes load it once, at start), one read at a time. The execution
providers are chosen once from `LINESIGHT_OCR_RAPID_PROVIDERS` and what the installed ONNX Runtime offers,
as inference does: `auto` takes CUDA when offered. Each run is stopped at the read's deadline (ONNX
Runtime's `RunOptions.terminate`), so a read past its deadline stops working in here too."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from PIL import Image

from linesight_ocr.domain.preprocess import Prepared
from linesight_ocr.domain.tesseract_pass import Word, upright_box

log = logging.getLogger(__name__)

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
ALIASES = {"cpu": CPU, "cuda": CUDA, "tensorrt": "TensorrtExecutionProvider"}
# A detected line this much taller than wide is sideways text (RapidOCR turns such crops by 90°).
TALL = 1.5
# Text (by characters) that must run one way before a line read the other way is taken as misturned.
ONE_WAY_SHARE = 0.7


class RapidUnavailable(RuntimeError):
    """rapidocr-onnxruntime or the execution providers asked for are not there."""


class RapidDeadline(RuntimeError):
    """A run was stopped at the read's deadline."""


def choose_providers(preference: str, available: Sequence[str]) -> tuple[str, ...]:
    """`auto` (or empty): CUDA then CPU when CUDA is offered, else CPU. A list ("cuda,cpu") keeps the
    offered ones in its order and refuses when none is offered: a GPU host that lost CUDA fails loudly."""
    wanted = preference.strip()
    if wanted.lower() in ("", "auto"):
        return (CUDA, CPU) if CUDA in available else (CPU,)
    asked = [ALIASES.get(t.strip().lower(), t.strip()) for t in wanted.split(",") if t.strip()]
    chosen = tuple(dict.fromkeys(p for p in asked if p in available))
    if not chosen:
        raise RapidUnavailable(
            f"none of LINESIGHT_OCR_RAPID_PROVIDERS={preference!r} is offered by this ONNX Runtime "
            f"({', '.join(available) or 'none'})"
        )
    return chosen if CPU in chosen or CPU not in available else (*chosen, CPU)


class _Session:
    """An InferenceSession whose runs can be stopped from another thread (RunOptions.terminate)."""

    def __init__(self, session: Any) -> None:
        import onnxruntime as ort

        self._session = session
        self._ort = ort
        self.run_options = ort.RunOptions()

    def run(self, outputs: Any, feeds: Any, run_options: Any = None) -> Any:
        return self._session.run(outputs, feeds, self.run_options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


@dataclass
class RapidEngine:
    ocr: Any  # rapidocr_onnxruntime.RapidOCR
    sessions: list[_Session]
    providers: tuple[str, ...]

    @contextmanager
    def deadline(self, at: float) -> Iterator[None]:
        """Runs inside stop at `at` (time.monotonic()); RapidDeadline is raised for them."""
        for s in self.sessions:
            s.run_options = s._ort.RunOptions()
        left = at - time.monotonic()
        if left <= 0:
            raise RapidDeadline("the read ran past its deadline")
        timer = None
        if left != float("inf"):
            timer = threading.Timer(left, self._terminate)
            timer.daemon = True
            timer.start()
        try:
            yield
        except Exception as exc:  # ONNX Runtime reports a terminated run as a failed one
            if time.monotonic() >= at - 0.01:
                raise RapidDeadline("the read ran past its deadline") from exc
            raise
        finally:
            if timer is not None:
                timer.cancel()

    def _terminate(self) -> None:
        for s in self.sessions:
            s.run_options.terminate = True


_engine: RapidEngine | None = None
_lock = threading.Lock()
_settings = {"providers": "auto", "threads": 1}


def configure(providers: str = "auto", threads: int = 1) -> None:
    """Sets how the process's engine is loaded (the next `engine()` loads it); drops a loaded one."""
    global _engine
    with _lock:
        _settings.update(providers=providers, threads=threads)
        _engine = None


def engine() -> RapidEngine:
    """The process's engine, loaded on first use: three ONNX sessions, about 0.2 s and 40 MB."""
    global _engine
    with _lock:
        if _engine is None:
            _engine = _load(str(_settings["providers"]), int(_settings["threads"]))
        return _engine


def _load(preference: str, threads: int) -> RapidEngine:
    try:
        import onnxruntime as ort
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as exc:  # pragma: no cover - a broken install
        raise RapidUnavailable(f"rapidocr-onnxruntime is not installed: {exc}") from exc
    providers = choose_providers(preference, ort.get_available_providers())
    kwargs: dict[str, Any] = {"print_verbose": False}
    if threads:
        kwargs.update(intra_op_num_threads=threads, inter_op_num_threads=1)
    logging.getLogger("RapidOCR").setLevel(logging.WARNING)
    ocr = RapidOCR(**kwargs)
    sessions = []
    for holder, attr in ((ocr.text_det, "infer"), (ocr.text_cls, "infer"), (ocr.text_rec, "session")):
        infer = getattr(holder, attr)  # rapidocr's OrtInferSession
        session = infer.session
        if providers != (CPU,):  # the wheel loads on CPU; reload on the chosen providers
            session = ort.InferenceSession(
                session._model_path, sess_options=session._sess_options, providers=list(providers)
            )
        wrapped = _Session(session)
        infer.session = wrapped
        sessions.append(wrapped)
    used = tuple(sessions[0].get_providers())
    log.info("rapidocr loaded", extra={"providers": list(used)})
    return RapidEngine(ocr, sessions, used)


@dataclass(frozen=True)
class RapidLine:
    text: str
    confidence: float
    quad: np.ndarray  # 4 x 2 corners on the image read
    turn: int  # degrees clockwise that turn this line upright on that image
    # The line's own image as the recogniser saw it: rectified from the quad and turned upright (BGR).
    crop: np.ndarray | None = field(default=None, compare=False, repr=False)


def _lines(eng: RapidEngine, image: np.ndarray) -> list[RapidLine]:
    """Detection, crops, angle classification and recognition, keeping what RapidOCR's own call drops:
    which crops it turned sideways and which the classifier turned over, i.e. where the line points."""
    ocr = eng.ocr
    raw_h, raw_w = image.shape[:2]
    img, ratio_h, ratio_w = ocr.preprocess(image)
    record: dict[str, Any] = {"preprocess": {"ratio_h": ratio_h, "ratio_w": ratio_w}}
    img, record = ocr.maybe_add_letterbox(img, record)
    boxes, _ = ocr.auto_text_det(img)
    if not boxes:
        return []
    crops = ocr.get_crop_img_list(img, boxes)
    sideways = []
    for box in boxes:
        w = max(np.linalg.norm(box[0] - box[1]), np.linalg.norm(box[2] - box[3]))
        h = max(np.linalg.norm(box[0] - box[3]), np.linalg.norm(box[1] - box[2]))
        sideways.append(h >= TALL * w)
    crops, cls_res, _ = ocr.text_cls(crops)
    rec_res, _ = ocr.text_rec(crops, False)
    quads = ocr._get_origin_points(boxes, record, raw_h, raw_w)
    out = []
    for quad, side, (label, cls_score), rec, crop in zip(
        quads, sideways, cls_res, rec_res, crops, strict=True
    ):
        text, score = rec[0], float(rec[1])
        if not text.strip() or score < ocr.text_score:
            continue
        # the classifier turns a crop over only when it is sure enough
        flipped = label == "180" and cls_score > ocr.text_cls.cls_thresh
        # np.rot90 turns a sideways crop counter-clockwise: its text ran top to bottom, i.e. the line
        # turns upright by 270° clockwise (90° more when the classifier then turned it over).
        turn = (270 if side else 0) + (180 if flipped else 0)
        out.append(RapidLine(text.strip(), score, quad, turn % 360, crop))
    return _one_way_up(ocr, out)


def _one_way_up(ocr: Any, lines: list[RapidLine]) -> list[RapidLine]:
    """A label's text runs one way: a line the angle classifier turned the other way from most of the
    text (weighted by length) is turned back and read again. The classifier errs on short crops: a key
    `S/N` upside down reads `N/S`, and its value is then lost."""
    votes: Counter[int] = Counter()
    for line in lines:
        votes[line.turn] += len(line.text)
    if not votes:
        return lines
    turn, weight = votes.most_common(1)[0]
    if weight < ONE_WAY_SHARE * sum(votes.values()):
        return lines
    wrong = [i for i, line in enumerate(lines) if line.turn == (turn + 180) % 360 and line.crop is not None]
    if not wrong:
        return lines
    crops = [cv2.rotate(lines[i].crop, cv2.ROTATE_180) for i in wrong]
    again, _ = ocr.text_rec(crops, False)
    out = list(lines)
    for i, crop, (text, score) in zip(wrong, crops, [(r[0], float(r[1])) for r in again], strict=True):
        if text.strip() and score >= ocr.text_score:
            out[i] = RapidLine(text.strip(), score, lines[i].quad, turn, crop)
    return out


def page_turn(lines: list[RapidLine]) -> int:
    """The turn most lines (weighted by length) need to be upright."""
    votes: Counter[int] = Counter()
    for line in lines:
        votes[line.turn] += len(line.text)
    return votes.most_common(1)[0][0] if votes else 0


def read_lines(prepared: Prepared, at: float) -> list[RapidLine]:
    """The text lines of the prepared page (barcodes blanked) as RapidOCR finds and reads them, each with
    its upright crop; RapidDeadline past `at`."""
    eng = engine()
    arr = np.asarray(prepared.image.convert("RGB"))[:, :, ::-1].copy()  # BGR, as cv2 reads images
    with eng.deadline(at):
        return _lines(eng, arr)


# A word of a line: its text, its confidence, and where it starts and ends along the line (0..1).
Span = tuple[str, float, float, float]


def spans_by_characters(text: str, confidence: float) -> list[Span]:
    """A line's words, each given the share of the line its characters take (the recogniser gives no
    word boxes)."""
    total = max(len(text), 1)
    out: list[Span] = []
    pos = 0
    for part in text.split():
        start = text.index(part, pos)
        pos = start + len(part)
        out.append((part, confidence, start / total, pos / total))
    return out


def line_words(
    lines: Sequence[RapidLine], prepared: Prepared, spans: Sequence[Sequence[Span]] | None = None
) -> list[Word]:
    """Words with upright boxes for the key/value layout: one block per line; `spans` (per line) say
    what each line reads as, by default RapidOCR's own text."""
    turn = page_turn(list(lines))
    size = prepared.image.size
    words: list[Word] = []
    for block, line in enumerate(lines, start=1):
        parts = spans[block - 1] if spans is not None else spans_by_characters(line.text, line.confidence)
        xs, ys = line.quad[:, 0], line.quad[:, 1]
        box = (int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max()))
        words.extend(_split(parts, box, turn, size, prepared, block))
    return words


def read_words(prepared: Prepared, at: float) -> tuple[list[Word], str]:
    """Words of the prepared page as RapidOCR reads them, and the raw text (its lines joined)."""
    lines = read_lines(prepared, at)
    return line_words(lines, prepared), "\n".join(line.text for line in lines)


def _split(
    parts: Sequence[Span],
    box: tuple[int, int, int, int],
    turn: int,
    size: tuple[int, int],
    prepared: Prepared,
    block: int,
) -> list[Word]:
    """A line's words, each with its stretch of the line's upright box."""
    up = upright_box(box, turn, size)
    words = []
    for n, (part, confidence, a, b) in enumerate(parts, start=1):
        x1 = round(up[0] + (up[2] - up[0]) * a)
        x2 = round(up[0] + (up[2] - up[0]) * b)
        word_up = (x1, up[1], max(x2, x1 + 1), up[3])
        on_image = _back(word_up, turn, size)
        words.append(
            Word(
                text=part,
                confidence=round(confidence, 3),
                box=prepared.to_source(*on_image),
                prepared_box=word_up,
                block=block,
                line=1,
                word=n,
                rotation=(turn + prepared.rotation) % 360,
                image_box=on_image,
                image_turn=turn,
            )
        )
    return words


def _back(box: tuple[int, int, int, int], turn: int, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """An upright box (the image turned `turn` clockwise) back on the image of `size`."""
    w, h = size
    turned_size = (h, w) if turn in (90, 270) else (w, h)
    return upright_box(box, (360 - turn) % 360, turned_size)


def check_installed(preference: str = "auto") -> dict[str, object]:
    """Readiness of the service process (the readers load the models): the package and its three model
    files are there and the configured providers resolve."""
    from importlib import metadata
    from pathlib import Path

    import onnxruntime as ort

    try:
        import rapidocr_onnxruntime
    except ImportError as exc:
        raise RapidUnavailable(f"rapidocr-onnxruntime is not installed: {exc}") from exc
    models = sorted(p.name for p in (Path(rapidocr_onnxruntime.__file__).parent / "models").glob("*.onnx"))
    if len(models) < 3:
        raise RapidUnavailable(f"rapidocr-onnxruntime's models are missing (found {models})")
    providers = choose_providers(preference, ort.get_available_providers())
    return {
        "version": metadata.version("rapidocr-onnxruntime"),
        "models": models,
        "providers": list(providers),
    }


def check(image: Image.Image | None = None) -> str:
    """Readiness: the engine loads and reads a line it is shown; its first provider."""
    from PIL import ImageDraw, ImageFont

    eng = engine()
    if image is None:
        image = Image.new("RGB", (360, 80), "white")
        font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 36)
        ImageDraw.Draw(image).text((10, 18), "SN 4711", font=font, fill="black")
    arr = np.asarray(image.convert("RGB"))[:, :, ::-1].copy()
    with eng.deadline(time.monotonic() + 30):
        lines = _lines(eng, arr)
    if not any("4711" in line.text for line in lines):
        raise RapidUnavailable(f"rapidocr read {[line.text for line in lines]!r} from its self-test line")
    return eng.providers[0]
