"""A segment station's defect rules and its region of interest as the Stations page edits them, and a
segment inspection's failed rules and defects as Inspect and History show them; no Streamlit here. Every
field may be absent (an older gateway): the functions then give nothing rather than fail."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

UNITS = ("px", "mm")
# The limits of one rule, in the gateway's field names, with what the editor calls them.
LIMITS = {
    "max_count": "most instances",
    "max_largest_area": "largest area",
    "max_total_area_percent": "total area (% of the photo)",
    "max_length": "longest length",
}
RULE_COLUMNS = ["class", "defect", *LIMITS, "unit"]
DEFECT_COLUMNS = ["class", "confidence", "area", "length", "unit", "inside the region"]


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def rules_rows(rules: Iterable[Mapping[str, Any]] | None, classes: Sequence[str]) -> pd.DataFrame:
    """One row per class of the model (and per class a rule names that the model lacks): whether it is a
    defect (the station has a rule for it) and its limits as the station has them now, empty where it
    sets none."""
    by_label = {str(r.get("label")): r for r in rules or [] if isinstance(r, Mapping)}
    rows = []
    for label in dict.fromkeys([*classes, *by_label]):
        rule = by_label.get(label, {})
        rows.append(
            {
                "class": label,
                "defect": label in by_label,
                **{k: _number(rule.get(k)) for k in LIMITS},
                "unit": rule.get("unit") if rule.get("unit") in UNITS else "px",
            }
        )
    frame = pd.DataFrame(rows, columns=RULE_COLUMNS)
    return frame.astype({k: "float64" for k in LIMITS})


def rules_body(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The edited rows as the gateway's `defect_rules`: a rule for each defect class (a count as a whole
    number); a defect class with no limit allows none of it, as the gateway reads it."""
    out = []
    for row in rows:
        limits = {k: _number(row.get(k)) for k in LIMITS}
        if not row.get("defect") or not str(row.get("class") or "").strip():
            continue
        count = limits["max_count"]
        out.append(
            {
                "label": str(row["class"]).strip(),
                "max_count": None if count is None else int(count),
                "max_largest_area": limits["max_largest_area"],
                "max_total_area_percent": limits["max_total_area_percent"],
                "max_length": limits["max_length"],
                "unit": row.get("unit") if row.get("unit") in UNITS else "px",
            }
        )
    return out


def rules_problems(rules: Iterable[Mapping[str, Any]], mm_per_pixel: float | None) -> list[str]:
    """What the gateway would refuse, said before it is asked (it checks again)."""
    problems = []
    for rule in rules:
        for key, name in LIMITS.items():
            value = rule.get(key)
            if value is not None and (value < 0 or (value == 0 and key != "max_count")):
                problems.append(
                    f"{rule['label']}: the {name} limit must be above 0 ({value:g}); "
                    "to allow none of a class, set its count to 0."
                )
        percent = rule.get("max_total_area_percent")
        if percent is not None and percent > 100:
            problems.append(
                f"{rule['label']}: the total area is a share of the photo, 0 to 100 % ({percent:g})."
            )
        if rule.get("unit") == "mm" and not mm_per_pixel:
            problems.append(f"{rule['label']}: limits in mm need the station's mm per pixel.")
    return problems


_PAIR = re.compile(r"^\s*([-+0-9.eE]+)\s*[, ]\s*([-+0-9.eE]+)\s*$")


def parse_roi(text: str) -> tuple[list[list[float]] | None, list[str]]:
    """A region of interest typed as `x,y; x,y; ...` (normalised 0..1): the points, or None for an empty
    text (no region: the whole photo counts), and what is wrong with it."""
    parts = [p for p in re.split(r"[;\n]", text) if p.strip()]
    if not parts:
        return None, []
    points: list[list[float]] = []
    problems: list[str] = []
    for n, part in enumerate(parts, start=1):
        match = _PAIR.match(part)
        x = _number(match.group(1)) if match else None
        y = _number(match.group(2)) if match else None
        if x is None or y is None:
            problems.append(f"Point {n} ({part.strip()!r}) is not `x,y`.")
        elif not (0 <= x <= 1 and 0 <= y <= 1):
            problems.append(f"Point {n} ({x:g},{y:g}) lies outside the photo: x and y go from 0 to 1.")
        else:
            points.append([x, y])
    if not problems and len(points) < 3:
        problems.append(f"A region needs at least three points; {len(points)} given.")
    return (points if not problems else None), problems


def roi_text(roi: Any) -> str:
    """A station's region as the text field shows it."""
    if not roi:
        return ""
    return "; ".join(f"{float(p[0]):.3g},{float(p[1]):.3g}" for p in roi if isinstance(p, list | tuple))


def _rule_text(rule: Mapping[str, Any]) -> str:
    unit = f" {rule['unit']}" if rule.get("unit") else ""
    value, limit = _number(rule.get("value")), _number(rule.get("limit"))
    said = f"{rule.get('label', '?')} {rule.get('rule', '')}".strip()
    if value is None or limit is None:
        return said
    return f"{said}: {value:g}{unit} > {limit:g}{unit}"


def failed_rule_texts(inspection: Mapping[str, Any]) -> list[str]:
    """Each rule the photo failed, in words ("crack 7.2 mm > 5 mm"), as the gateway says it, or made from
    its figures when it gives no text."""
    out = []
    for rule in inspection.get("failed_rules") or []:
        if not isinstance(rule, Mapping):
            continue
        text = rule.get("text") or _rule_text(rule)
        out.append(str(text))
    return out


def defects_table(inspection: Mapping[str, Any]) -> pd.DataFrame:
    """The defects the gateway measured: class, confidence, area, length and unit, and whether each lies
    inside the region of interest (only those count)."""
    rows = []
    for d in inspection.get("defects") or []:
        if not isinstance(d, Mapping):
            continue
        inside = d.get("inside_roi")
        rows.append(
            {
                "class": d.get("label"),
                "confidence": _number(d.get("confidence")),
                "area": _number(d.get("area")),
                "length": _number(d.get("length")),
                "unit": d.get("unit") or "px",
                "inside the region": "yes" if inside or inside is None else "no: ignored",
            }
        )
    return pd.DataFrame(rows, columns=DEFECT_COLUMNS)
