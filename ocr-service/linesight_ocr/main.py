"""Builds the OCR service app: label reading with Tesseract, RapidOCR and zxing-cpp."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import Depends, FastAPI
from starlette.concurrency import run_in_threadpool

from linesight_core.app import create_app as create_service_app
from linesight_core.auth import service_token_dependency
from linesight_core.body_limit import upload_route
from linesight_ocr import __version__
from linesight_ocr.api import capabilities, labels
from linesight_ocr.domain.barcodes import check_decoder, draw_self_test_images
from linesight_ocr.domain.engine import check_tesseract
from linesight_ocr.domain.rapid import check_installed as check_rapid_installed
from linesight_ocr.domain.reader_pool import ReaderPool
from linesight_ocr.domain.vendors import load_profiles
from linesight_ocr.settings import OcrSettings
from linesight_ocr.token_model import load_token_model

log = logging.getLogger(__name__)


def create_app(settings: OcrSettings | None = None) -> FastAPI:
    settings = settings or OcrSettings()
    readers = ReaderPool(
        settings.ocr_workers or os.cpu_count() or 1,
        settings.tessdata_dir,
        settings.ocr_token_model,
        deadline_seconds=settings.ocr_read_deadline_seconds,
        rapid_config=(settings.ocr_rapid_providers, settings.ocr_rapid_threads)
        if "rapidocr" in settings.recognizers
        else None,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The readers start in the background: the first label need not wait for their imports.
        warming = asyncio.get_running_loop().run_in_executor(None, readers.warm)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):  # a reader that cannot start says so on the first label
                await warming
            await run_in_threadpool(readers.close)

    # Drawn once; readiness decodes them again each time, which takes about a millisecond.
    self_test_images = draw_self_test_images()

    app = create_service_app(
        settings,
        title="LineSight OCR service",
        description="Reads product labels with Tesseract and zxing-cpp. Stateless. Internal API: every /v1 "
        "endpoint needs the service token (Authorization: Bearer).",
        version=__version__,
        lifespan=lifespan,
        readiness={
            "tesseract": partial(check_tesseract, settings.tessdata_dir, settings.languages),
            "barcode_decoder": partial(check_decoder, self_test_images),
            **(
                {"rapidocr": partial(check_rapid_installed, settings.ocr_rapid_providers)}
                if "rapidocr" in settings.recognizers
                else {}
            ),
        },
        body_limits=[upload_route("POST", "/v1/parse-label", settings.image_max_bytes, "label photos")],
    )
    internal = [Depends(service_token_dependency(settings.service_token.get_secret_value()))]
    app.include_router(capabilities.router, dependencies=internal)
    app.include_router(labels.router, dependencies=internal)
    # Read once: adding a vendor is adding a YAML file and restarting the service.
    app.state.vendor_profiles = load_profiles()
    app.state.token_model = load_token_model(settings.ocr_token_model)
    app.state.readers = readers
    return app
