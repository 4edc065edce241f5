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

    @property
    def languages(self) -> list[str]:
        tokens = self.ocr_languages.replace(",", "+").split("+")
        return [t.strip() for t in tokens if t.strip()]
