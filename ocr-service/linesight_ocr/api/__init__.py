"""HTTP routers of the OCR service."""
