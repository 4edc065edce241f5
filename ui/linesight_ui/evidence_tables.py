"""The evidence for a promotion in tables and words, with no Streamlit here: a replay's or shadow
period's figures side by side with production, a promotion gate and its refusal, and the two answers of a
disagreement (as text, and as boxes to draw on its photo)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from linesight_ui.label_drawing import Color
from linesight_ui.tables import when

CANDIDATE_COLOUR: Color = (37, 99, 235)  # blue: the version asked about (candidate, shadow)
PRODUCTION_COLOUR: Color = (234, 140, 0)  # orange: production (or the live answer)
# The rules a version can fail at the gate (the gateway's `failed_rules`), in words.
RULES = {
    "no_station": "no active station serves the model's production",
    "no_replay": "no completed replay against the version in production",
    "too_few_verified": "too few verified inspections replayed",
    "verdict_accuracy": "verdict accuracy below production's",
    "nok_recall": "NOK recall below production's",
}


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.1%}"


def figure_rows(side: Mapping[str, Any]) -> dict[str, str]:
    """One version's figures against the operators' truth (a replay's or shadow period's side), as the
    rows of the side-by-side table."""
    rows = {
        "verdict accuracy": percent(side.get("verdict_accuracy")),
        "NOK recall": percent(side.get("nok_recall")),
        "false-NOK rate": percent(side.get("false_nok_rate")),
    }
    if "counting_accuracy" in side:
        rows["all counts right"] = percent(side.get("all_counts_accuracy"))
        for label, rate in sorted((side.get("counting_accuracy") or {}).items()):
            rows[f"counting accuracy: {label}"] = percent(rate)
    if "class_accuracy" in side:
        rows["class accuracy"] = percent(side.get("class_accuracy"))
        for label, rate in sorted((side.get("per_class_accuracy") or {}).items()):
            rows[f"class accuracy: {label}"] = percent(rate)
    rows["verified inspections"] = str(side.get("verified", 0))
    rows["truly NOK / truly OK"] = f"{side.get('truly_nok', 0)} / {side.get('truly_ok', 0)}"
    return rows


def side_by_side(columns: Sequence[tuple[str, Mapping[str, Any]]]) -> pd.DataFrame:
    """The figures of each (column title, side) next to each other, one row per figure."""
    frame = pd.DataFrame({title: figure_rows(side) for title, side in columns})
    frame.index.name = "figure"
    return frame.fillna("—")


def replay_columns(job: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    result = job.get("result") or {}
    candidate, production = job["candidate"], job["production"]
    return [
        (f"v{candidate['version']} (replayed)", result.get("candidate") or {}),
        (f"v{production['version']} (production)", result.get("production") or {}),
    ]


def replay_text(job: Mapping[str, Any], station: str) -> str:
    """`Replay at bench-1: 7 verified inspections replayed, 0 skipped, 3 disagreements (completed ...)`."""
    result = job.get("result") or {}
    done = job.get("finished_at") or job.get("created_at")
    disagreements = int(result.get("disagreement_count") or 0)
    return (
        f"Replay at {station} against v{job['production']['version']} in production: "
        f"{result.get('replayed', 0)} verified inspections replayed, {result.get('skipped', 0)} skipped, "
        f"{disagreements} disagreement{'s' if disagreements != 1 else ''} ({job['status']} {when(done)})"
    )


def skipped_rows(job: Mapping[str, Any]) -> list[dict[str, str]]:
    return [
        {"inspection": str(s["inspection_id"]), "why skipped": str(s["reason"])}
        for s in (job.get("result") or {}).get("skipped_items", [])
    ]


def latest_per_station(jobs: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """The newest replay of each station among `jobs` (listed newest first)."""
    out: dict[str, Mapping[str, Any]] = {}
    for job in jobs:
        out.setdefault(str(job["station_id"]), job)
    return out


def gate_text(gate: Mapping[str, Any]) -> str:
    """Whether production of the model moves only through the gate, and judged by which stations."""
    name = gate.get("model_name", "the model")
    if not gate.get("gated"):
        return f"{name} is not gated: production moves without a replay."
    judged = gate.get("judged_by") or []
    if not judged:
        return (
            f"{name} is gated, but no active station serves its production now: a promotion is refused "
            "until one does (or an admin overrides)."
        )
    stations = ", ".join(f"{j['station']} (at least {j['min_verified']} verified)" for j in judged)
    return (
        f"{name} is gated: production moves only to a version whose latest replay is at least as good as "
        f"production on verdict accuracy and NOK recall at {stations}."
    )


def refusal_lines(body: Mapping[str, Any]) -> list[str]:
    """A 409 of the promotion gate in words: each failed rule, then each station's reasons."""
    rules = body.get("failed_rules") or []
    lines = [f"Failed: {', '.join(RULES.get(r, r) for r in rules)}."] if rules else []
    gate = body.get("gate") or {}
    lines += [r[0].upper() + r[1:] + "." for r in gate.get("reasons") or []]
    for check in gate.get("stations") or []:
        for reason in check.get("reasons") or []:
            lines.append(f"At {check['station']}: {reason}.")
    return lines


def refusal_table(body: Mapping[str, Any]) -> pd.DataFrame:
    """The gate's figures per station: verified against the minimum, each side's headline figures."""
    gate = body.get("gate") or {}
    version, production = gate.get("version"), gate.get("production_version")
    rows = []
    for check in gate.get("stations") or []:
        mine, theirs = check.get("candidate") or {}, check.get("production") or {}
        rows.append(
            {
                "station": check["station"],
                "passed": "yes" if check.get("passed") else "no",
                "verified": f"{check.get('verified', 0)} of at least {check.get('min_verified')}",
                f"verdict accuracy v{version}": percent(mine.get("verdict_accuracy")),
                f"verdict accuracy v{production}": percent(theirs.get("verdict_accuracy")),
                f"NOK recall v{version}": percent(mine.get("nok_recall")),
                f"NOK recall v{production}": percent(theirs.get("nok_recall")),
                f"false-NOK rate v{version}": percent(mine.get("false_nok_rate")),
                f"false-NOK rate v{production}": percent(theirs.get("false_nok_rate")),
            }
        )
    return pd.DataFrame(rows)


def answer_text(answer: Mapping[str, Any] | None) -> str:
    """`NOK · wrench 1, tape 0` (detect) or `NOK · scratch` (classify); `—` for none."""
    if not answer:
        return "—"
    head = str(answer.get("verdict") or "?")
    if answer.get("counts") is not None:
        counts = answer["counts"]
        shown = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "nothing found"
        return f"{head} · {shown}"
    if answer.get("class"):
        return f"{head} · {answer['class']}"
    return head


def answer_boxes(answer: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """An answer's boxes as {label, confidence, x1, y1, x2, y2}: a replay keeps them flat (`boxes`), an
    inspection or shadow record as predictions with a `box`."""
    if not answer:
        return []
    out = []
    for found in answer.get("boxes") or answer.get("predictions") or []:
        corners = found.get("box") or found
        if not all(k in corners for k in ("x1", "y1", "x2", "y2")):
            continue  # a classify prediction has no box
        out.append({"label": found.get("label", "?"), "confidence": found.get("confidence"), **corners})
    return out


def box_groups(
    answer: Mapping[str, Any] | None, colour: Color, *, floor: float = 0.0
) -> list[tuple[list[Mapping[str, float]], Color, str]]:
    """Each box of an answer (at least `floor` sure) as a group for label_drawing.draw_tagged."""
    groups: list[tuple[list[Mapping[str, float]], Color, str]] = []
    for box in answer_boxes(answer):
        confidence = box.get("confidence")
        if confidence is not None and confidence < floor:
            continue
        tag = box["label"] + (f" {confidence:.2f}" if confidence is not None else "")
        groups.append(([box], colour, tag))
    return groups
