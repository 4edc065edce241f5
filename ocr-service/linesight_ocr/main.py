"""Builds the OCR service app: label reading with Tesseract and zxing-cpp."""

from __future__ import annotations

from functools import partial

import pytesseract
from fastapi import Depends, FastAPI

from linesight_core.app import create_app as create_service_app
from linesight_core.auth import service_token_dependency
from linesight_ocr import __version__
from linesight_ocr.api import capabilities, labels
from linesight_ocr.domain.barcodes import check_decoder, draw_self_test_images
from linesight_ocr.domain.tesseract import check_tesseract
from linesight_ocr.domain.vendors import load_profiles
from linesight_ocr.settings import OcrSettings


def create_app(settings: OcrSettings | None = None) -> FastAPI:
    settings = settings or OcrSettings()
    # Drawn once; readiness decodes them again each time, which takes about a millisecond.
    self_test_images = draw_self_test_images()

    app = create_service_app(
        settings,
        title="LineSight OCR service",
        description="Reads product labels with Tesseract and zxing-cpp. Stateless. Internal API: every /v1 "
        "endpoint needs the service token (Authorization: Bearer).",
        version=__version__,
        readiness={
            "tesseract": partial(
                check_tesseract,
                settings.tesseract_cmd,
                settings.languages,
                settings.tesseract_probe_timeout_seconds,
            ),
            "barcode_decoder": partial(check_decoder, self_test_images),
        },
    )
    internal = [Depends(service_token_dependency(settings.service_token.get_secret_value()))]
    app.include_router(capabilities.router, dependencies=internal)
    app.include_router(labels.router, dependencies=internal)
    # Read once: adding a vendor is adding a YAML file and restarting the service.
    app.state.vendor_profiles = load_profiles()
    pytesseract.pytesseract.tesseract_cmd = settings.tesseract_cmd
    return app
