"""OCR service settings, read once at start."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from linesight_core.settings import CoreSettings


class OcrSettings(CoreSettings):
    model_config = SettingsConfigDict(env_prefix="LINESIGHT_", extra="ignore", frozen=True)

    service_name: str = "ocr-service"
    port: int = 8002

    # Tesseract's language data (the folder holding eng.traineddata, osd.traineddata); empty: TESSDATA_PREFIX
    # or where Debian, Ubuntu, Fedora and Homebrew install it. Tesseract itself runs inside the service
    # (tesserocr), so no `tesseract` binary is needed.
    tessdata_dir: str = ""
    # Tesseract language codes, joined with '+' as Tesseract writes them ("eng+deu"); ',' works too.
    ocr_languages: str = "eng"
    # Most label reads that run at once (each holds its own loaded Tesseract engines); 0: one per CPU.
    ocr_workers: int = Field(0, ge=0)

    # One Tesseract recognition (the page, or a second look at a value) while parsing a label.
    ocr_tesseract_timeout_seconds: float = 30.0
    # One whole read, from the moment it is handed to the readers (waiting for a free one included):
    # barcodes, orientation, every recognition and second read. Past it the read answers 503 and its
    # reader stops working on it. Below the gateway's LINESIGHT_OCR_TIMEOUT_SECONDS (30), so the gateway
    # gets this answer rather than giving up.
    ocr_read_deadline_seconds: float = Field(25.0, gt=0)
    # Most pixels of the image Tesseract reads, after small text is scaled up (up to 2.5x a side); a larger
    # one is scaled down to this.
    ocr_max_read_pixels: int = Field(40_000_000, ge=1_000_000)
    # Straighten text lines tilted by up to 10 degrees before reading (costs a few ms).
    ocr_deskew: bool = False
    # The recognizers that read every label, comma-separated: `tesseract`, `rapidocr` (PP-OCR on ONNX
    # Runtime) or both. With both, a code is approved without review only when independent evidence
    # agrees on it (both recognizers, a barcode, or its check digit).
    ocr_recognizers: str = "tesseract,rapidocr"
    # ONNX Runtime execution providers of RapidOCR: `auto` (CUDA when this ONNX Runtime offers it, else
    # CPU) or a list (`cuda,cpu`; the start fails when none of them is offered).
    ocr_rapid_providers: str = "auto"
    # ONNX Runtime threads of one RapidOCR run in a reader process; 0: ONNX Runtime's default (every
    # core). The readers already run one per CPU: one thread each keeps them from fighting over cores
    # (on a busy 2-core machine three times faster than the default).
    ocr_rapid_threads: int = Field(1, ge=0)
    # A code read with less confidence than this sends the whole read to review.
    ocr_review_below_confidence: float = 0.8
    # A token classifier trained with `python -m linesight_ocr.classifier train` (a joblib file, which is
    # a pickle: only a file made by that command on the platform's own export). Empty: the rules rank.
    ocr_token_model: str = ""
    # Hosts and CIDRs that /v1/parse-label/url may fetch from although they are private, loopback or
    # link-local ("10.20.0.0/16,images.internal"); empty: only public addresses.
    ocr_url_allowlist: str = ""
    # Limit on fetching one image by URL, redirects included, and the most redirects followed.
    ocr_url_timeout_seconds: float = 10.0
    ocr_url_max_redirects: int = 3

    @property
    def url_allowlist(self) -> list[str]:
        return [item.strip() for item in self.ocr_url_allowlist.split(",") if item.strip()]

    @property
    def recognizers(self) -> tuple[str, ...]:
        names = tuple(dict.fromkeys(t.strip().lower() for t in self.ocr_recognizers.split(",") if t.strip()))
        unknown = [n for n in names if n not in ("tesseract", "rapidocr")]
        if unknown or not names:
            raise ValueError(
                f"LINESIGHT_OCR_RECOGNIZERS={self.ocr_recognizers!r}: use tesseract, rapidocr or both "
                "(comma-separated)"
            )
        return names

    @property
    def languages(self) -> list[str]:
        tokens = self.ocr_languages.replace(",", "+").split("+")
        return [t.strip() for t in tokens if t.strip()]
