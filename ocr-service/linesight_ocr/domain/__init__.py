"""The OCR logic, plain Python, testable without a server."""
