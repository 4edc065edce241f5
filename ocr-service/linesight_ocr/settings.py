"""OCR service settings, read once at start."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from linesight_core.settings import CoreSettings


class OcrSettings(CoreSettings):
    model_config = SettingsConfigDict(env_prefix="LINESIGHT_", extra="ignore", frozen=True)

    service_name: str = "ocr-service"
    port: int = 8002

    # The Tesseract binary: a name looked up on PATH or an absolute path.
    tesseract_cmd: str = "tesseract"
    # Tesseract language codes, joined with '+' as Tesseract writes them ("eng+deu"); ',' works too.
    ocr_languages: str = "eng"
    # Limit on one Tesseract run of the readiness and capability probes.
    tesseract_probe_timeout_seconds: float = 2.0

    # One Tesseract run (orientation detection or reading) while parsing a label.
    ocr_tesseract_timeout_seconds: float = 30.0
    # Straighten text lines tilted by up to 10 degrees before reading (costs a few ms).
    ocr_deskew: bool = False
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
    def languages(self) -> list[str]:
        tokens = self.ocr_languages.replace(",", "+").split("+")
        return [t.strip() for t in tokens if t.strip()]
