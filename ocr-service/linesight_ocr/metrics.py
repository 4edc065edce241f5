"""The OCR service's own Prometheus metrics (linesight_ocr_*); every label value is from a fixed set."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

PARSE_SECONDS = Histogram(
    "linesight_ocr_parse_duration_seconds",
    "Time to read one label: pre-processing, Tesseract, barcodes and extraction (not the upload).",
    buckets=(0.05, 0.1, 0.15, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30),
)
CODES_FOUND = Counter(
    "linesight_ocr_codes_found_total", "Codes found on labels, by code type and validity.", ["type", "valid"]
)
LABEL_READS = Counter(
    "linesight_ocr_label_reads_total",
    "Labels read, by whether the read needs a person's review (ratio: true / all).",
    ["needs_review"],
)
REVIEW_REASONS = Counter(
    "linesight_ocr_review_reasons_total", "Why reads were sent to review, one count per reason.", ["reason"]
)
BARCODE_AGREEMENT = Counter(
    "linesight_ocr_barcode_text_agreement_total",
    "Barcodes compared with the printed text: agree (both), disagree, or barcode_only (no text to compare).",
    ["result"],
)
READ_FAILURES = Counter(
    "linesight_ocr_read_failures_total",
    "Label reads that failed: timeout (one recognition past its time limit), deadline (the whole read past "
    "LINESIGHT_OCR_READ_DEADLINE_SECONDS), engine (Tesseract not usable) or crash (the reader process ended).",
    ["reason"],
)
GLYPH_CORRECTIONS = Counter(
    "linesight_ocr_glyph_corrections_total",
    "Characters of serials and part numbers that, read alone, overruled the line read (5 for S, ...).",
)
READS_CANCELLED = Counter(
    "linesight_ocr_reads_cancelled_total",
    "Label reads stopped because the caller went away before the answer (its reader was stopped).",
)
