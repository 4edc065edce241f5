"""Codes printed on product labels, as a person confirms them: GTIN check digits, MAC addresses, the
formats of serials, part numbers and model names, and the key words labels print next to their values."""

from __future__ import annotations

import re
from typing import Any

GTIN_LENGTHS = {"ean8": 8, "upca": 12, "ean13": 13, "gtin14": 14}
GTIN_TYPES = frozenset(GTIN_LENGTHS)
GTIN_TYPE_BY_LENGTH = {length: code_type for code_type, length in GTIN_LENGTHS.items()}
MAC_RE = re.compile(r"^[0-9A-F]{2}([:\-]?)[0-9A-F]{2}(\1[0-9A-F]{2}){4}$")
IDENTIFIER_RE = re.compile(r"^[A-Z0-9][A-Z0-9\-/#.]{0,63}$")
MODEL_MAX = 100

# The keys labels print before their values (`S/N`, `P/N`, `Service Tag`, `MAC Address`, ...): the generic
# ones and those of the vendor profiles the OCR service ships, one entry per word, normalised.
LABEL_KEYS: tuple[str, ...] = (
    "S/N", "SN", "Serial", "Serial No.", "Serial Number", "Ser. No.", "Service Tag", "Svc Tag", "ST", "CT",
    "P/N", "PN", "DP/N", "FRU", "FRU P/N", "Part No.", "Part Number", "Product", "Product No.",
    "Product Number", "Spare", "Model", "Model No.", "M/N", "Reg Model", "Regulatory Model", "MTM", "MT",
    "Type", "SKU", "MAC", "MAC ID", "MAC Address", "LAN MAC", "WLAN MAC", "WiFi MAC", "EAN", "EAN-13",
    "EAN13", "UPC", "UPC-A", "UPC/EAN", "GTIN", "Express Service Code",
)  # fmt: skip


# The keys any vendor may print, by the field they name ("gtin": any of the GTIN types). Vendor profiles
# add their own; every key here is also in LABEL_KEYS.
GENERIC_KEYS: dict[str, tuple[str, ...]] = {
    "serial": ("S/N", "SN", "Serial", "Serial No.", "Serial Number", "Ser. No."),
    "part_number": ("P/N", "PN", "Part No.", "Part Number", "Product No."),
    "model": ("Model", "Model No.", "M/N"),
    "mac": ("MAC", "MAC ID", "MAC Address", "LAN MAC", "WLAN MAC", "WiFi MAC"),
    "gtin": ("EAN", "EAN-13", "EAN13", "UPC", "UPC-A", "UPC/EAN", "GTIN"),
}


class CodeInvalid(ValueError):
    """A confirmed code value that cannot be right for its type; the message says what is accepted."""


def compact(text: str) -> str:
    """Upper case, letters and digits only: how a token and a code value are compared."""
    return "".join(ch for ch in text.upper() if ch.isalnum())


KEY_WORDS = frozenset(compact(word) for key in LABEL_KEYS for word in key.split()) - {""}


def gtin_check_digit(body: str) -> int:
    """The GS1 check digit of the digits before it (weights 3,1,3,... from the right)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def gtin_valid(value: str) -> bool:
    return (
        value.isascii()
        and value.isdigit()
        and len(value) in GTIN_LENGTHS.values()
        and gtin_check_digit(value[:-1]) == int(value[-1])
    )


def gtin_type(digits: str) -> str | None:
    """The GTIN type a number of this many digits is (`ean13` for 13), None for other lengths."""
    return GTIN_TYPE_BY_LENGTH.get(len(digits))


def is_identifier(text: str) -> bool:
    """Upper-case letters and digits, also `-`, `/`, `#`, `.` after the first: a serial or part number."""
    return bool(IDENTIFIER_RE.fullmatch(text))


def canonical_mac(text: str) -> str | None:
    """`3c-52-82-1a-2b-4f`, `3C52821A2B4F` → `3C:52:82:1A:2B:4F`; None when it is not a MAC address."""
    upper = text.strip().upper()
    if not MAC_RE.match(upper):
        return None
    digits = re.sub(r"[:\-]", "", upper)
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def confirm(code_type: str, value: str) -> str:
    """The canonical form of a value a person confirmed for a code type; CodeInvalid when it cannot be
    right (a GTIN's check digit, a MAC address's form, characters no serial or part number carries)."""
    text = value.strip()
    if code_type in GTIN_TYPES:
        digits = text.replace(" ", "").replace("-", "")
        length = GTIN_LENGTHS[code_type]
        if not (digits.isascii() and digits.isdigit()) or len(digits) != length:
            raise CodeInvalid(f"an {code_type} has {length} digits; got {value!r}")
        if not gtin_valid(digits):
            expected = gtin_check_digit(digits[:-1])
            raise CodeInvalid(f"the check digit of {code_type} {digits} is wrong: it must be {expected}")
        return digits
    if code_type == "mac":
        mac = canonical_mac(text)
        if mac is None:
            raise CodeInvalid(
                f"{value!r} is not a MAC address: 12 hex digits, optionally in pairs joined by ':' or '-'"
            )
        return mac
    if code_type == "model":
        if not text or len(text) > MODEL_MAX or not text.isprintable():
            raise CodeInvalid(f"a model name is 1 to {MODEL_MAX} printable characters; got {value!r}")
        return " ".join(text.split())
    upper = text.upper()
    if not is_identifier(upper):
        raise CodeInvalid(
            f"{value!r} is not a {code_type.replace('_', ' ')}: 1 to 64 letters and digits, "
            "also '-', '/', '#', '.' after the first"
        )
    return upper


def is_key_word(text: str) -> bool:
    """A token that is one of the keys labels print (`S/N:`, `Model`, `MAC`, `Tag:`)."""
    return compact(text) in KEY_WORDS


# Token labels of the training-data export (docs/labels.md): a token this short says nothing on its own
# ("3" is in half the codes of a label); it is labelled by an exact match or where it was read, never by
# being part of a longer value.
KEY_LABEL, OTHER_LABEL = "key", "other"
MIN_PART = 3
SAME_BOX_IOU = 0.5


def box_iou(a: dict[str, int], b: dict[str, int]) -> float:
    w = min(a["x2"], b["x2"]) - max(a["x1"], b["x1"])
    h = min(a["y2"], b["y2"]) - max(a["y1"], b["y1"])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    area = (a["x2"] - a["x1"]) * (a["y2"] - a["y1"]) + (b["x2"] - b["x1"]) * (b["y2"] - b["y1"])
    return inter / (area - inter)


def token_label(token: dict[str, Any], codes: list[dict[str, Any]]) -> str:
    """The code type of the confirmed code a token belongs to, `key` or `other`. In order: the token's
    text is a code's whole value; the token is one the OCR service read the code from (its
    `token_boxes`, so a misread value a person corrected is still that code); the token is a label key
    (`S/N:`, `Model`); the token's text is part of a code's value. Texts are compared upper case,
    letters and digits only."""
    text = compact(token["text"])
    if text:
        for code in codes:
            if compact(code["value"]) == text:
                return str(code["type"])
        for code in codes:
            if any(box_iou(token["box"], box) >= SAME_BOX_IOU for box in code.get("token_boxes", [])):
                return str(code["type"])
    if is_key_word(token["text"]):
        return KEY_LABEL
    if len(text) >= MIN_PART:
        best, share = OTHER_LABEL, 0.0
        for code in codes:
            value = compact(code["value"])
            if value and text in value and len(text) / len(value) > share:
                best, share = str(code["type"]), len(text) / len(value)
        return best
    return OTHER_LABEL
