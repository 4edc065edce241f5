"""`python -m linesight_ocr`: serve the OCR API with its settings from the environment."""

from linesight_core.app import run
from linesight_ocr.main import create_app
from linesight_ocr.settings import OcrSettings

if __name__ == "__main__":
    settings = OcrSettings()
    run(create_app(settings), settings)
