"""Label reads as the tables and words the Labels page shows, and the reviewer's edited codes as the
gateway's correction body: pure functions, no Streamlit."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, get_args

import pandas as pd

from linesight_core.contracts.ocr import CodeType
from linesight_ui.tables import when

CODE_TYPES: tuple[str, ...] = get_args(CodeType)
GTINS = ("ean13", "ean8", "upca", "gtin14")
# The vendors ocr-service knows (docs/labels.md: `vendor_hint`).
VENDORS = ("dell", "hp", "lenovo", "ubiquiti")
STATUSES = ("needs_review", "approved", "corrected")
STATUS_WORDS = {"needs_review": "needs review", "approved": "approved", "corrected": "corrected"}
SOURCE_WORDS = {"ocr": "OCR", "barcode": "barcode", "both": "OCR + barcode", "reviewer": "reviewer"}
REASON_WORDS = {
    "no_codes": "no code was found",
    "low_confidence": "a code was read with low confidence",
    "invalid_checksum": "a check digit is wrong",
    "invalid_format": "a code does not have its type's form",
    "barcode_text_disagree": "a barcode and the printed text disagree",
    "conflicting_values": "one code was read with two different values",
    "orientation_uncertain": "it is unsure which way up the label is",
    "missing_codes": "a code this vendor's labels carry was not found",
    "no_text": "only barcodes were read; no printed text confirms them",
    "recognizers_disagree": "the two text recognizers read a code differently",
    "unconfirmed": "a code only one recognizer read, and nothing else confirms it",
    "unknown_vendor": "no known vendor: nothing says which codes the label carries",
    "ambiguous_characters": "a code holds an O, 0, I or 1 that could be its look-alike",
}
CODE_COLUMNS = ["#", "type", "value", "key", "confidence", "source", "validation", "review"]
QUEUE_COLUMNS = ["read at", "status", "station", "vendor", "codes", "why", "id"]


def validation_text(code: Mapping[str, Any]) -> str:
    """`valid`, or what is wrong with the value as read, then what else the reviewer should know."""
    if code.get("valid", True):
        words = ["valid"]
    elif code.get("type") in GTINS:
        words = ["check digit wrong"]
    else:
        words = ["format wrong"]
    if code.get("barcode_disagrees"):
        words.append("barcode disagrees")
    if code.get("repaired"):
        words.append("OCR confusions repaired")
    return ", ".join(words)


def review_text(code: Mapping[str, Any]) -> str:
    review = code.get("review")
    if review == "ok":
        return "sure"
    if review == "flagged":
        return "check this"
    if review == "corrected":
        return f"corrected (read {code.get('read_value')})"
    if review == "added":
        return "added by a reviewer"
    return str(review or "")


def codes_table(codes: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per code, numbered as its boxes are tagged on the photo."""
    rows = [
        {
            "#": n,
            "type": c["type"],
            "value": c["value"],
            "key": c.get("key") or "",
            "confidence": c.get("confidence"),
            "source": SOURCE_WORDS.get(c.get("source") or "", c.get("source") or ""),
            "validation": validation_text(c),
            "review": review_text(c),
        }
        for n, c in enumerate(codes, start=1)
    ]
    return pd.DataFrame(rows, columns=CODE_COLUMNS)


def reasons_text(reasons: Iterable[str]) -> str:
    """Why a read waits for review, in words."""
    return "; ".join(REASON_WORDS.get(r, r.replace("_", " ")) for r in reasons)


def codes_summary(codes: Sequence[Mapping[str, Any]]) -> str:
    return ", ".join(f"{c['type']} {c['value']}" for c in codes) or "no code"


def queue_table(items: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    rows = [
        {
            "read at": when(r["created_at"]),
            "status": STATUS_WORDS.get(r["status"], r["status"]),
            "station": r.get("station") or "",
            "vendor": (r.get("vendor") or {}).get("name", ""),
            "codes": codes_summary(r["codes"]),
            "why": reasons_text(r.get("review_reasons") or []),
            "id": str(r["id"]),
        }
        for r in items
    ]
    return pd.DataFrame(rows, columns=QUEUE_COLUMNS)


def pick_label(read: Mapping[str, Any]) -> str:
    """A read in the queue's picker: when, where, what."""
    where = f" · {read['station']}" if read.get("station") else ""
    vendor = f" · {read['vendor']['name']}" if read.get("vendor") else ""
    return f"{when(read['created_at'])}{where}{vendor} · {codes_summary(read['codes'])[:60]}"


def confirmed_codes(
    edited: pd.DataFrame | Sequence[Mapping[str, Any]],
) -> tuple[list[dict[str, str]], list[str]]:
    """The reviewer's table as the gateway's `codes`, and what is wrong with it in words. A row left
    empty (no value) is dropped: deleting a value leaves the code out. The gateway checks the values."""
    records = edited.to_dict("records") if isinstance(edited, pd.DataFrame) else list(edited)
    codes: list[dict[str, str]] = []
    problems: list[str] = []
    for n, row in enumerate(records, start=1):
        kind = row.get("type")
        raw = row.get("value")
        value = "" if raw is None or (isinstance(raw, float) and pd.isna(raw)) else str(raw).strip()
        kind = None if kind is None or (isinstance(kind, float) and pd.isna(kind)) else str(kind)
        if not value:
            continue
        if kind not in CODE_TYPES:
            problems.append(f"row {n} ({value}): pick the code's type")
            continue
        codes.append({"type": kind, "value": value})
    return codes, problems


def export_lines(data: bytes) -> int:
    """How many reads a JSON Lines export holds."""
    return sum(1 for line in data.splitlines() if line.strip())


def day_range(picked: Any) -> tuple[datetime | None, datetime | None]:
    """Days picked in st.date_input (UTC) as [since, until): a first day alone means that day and every
    day after; nothing picked, no limit."""
    chosen = [d for d in (picked if isinstance(picked, tuple | list) else [picked]) if isinstance(d, date)]
    if not chosen:
        return None, None
    since = datetime.combine(chosen[0], time.min, tzinfo=UTC)
    if len(chosen) == 1:
        return since, None
    return since, datetime.combine(chosen[-1], time.min, tzinfo=UTC) + timedelta(days=1)
