"""LineSight OCR service: label parsing with Tesseract, barcodes, code validation, vendor profiles."""

__version__ = "0.1.0"
