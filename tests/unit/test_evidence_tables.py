"""The evidence for a promotion in words and tables: a replay's figures next to production's, a gate and its
refusal, and the answers of a disagreement with their boxes in both shapes the gateway gives them."""

from linesight_ui import evidence_tables as et

FIGURES = {
    "verified": 7,
    "verdict_accuracy": 4 / 7,
    "truly_nok": 4,
    "truly_ok": 3,
    "nok_recall": 1.0,
    "false_nok_rate": None,
    "counting_accuracy": {"wrench": 2 / 7, "tape": 3 / 7},
    "all_counts_accuracy": 1 / 7,
}


def test_figures_side_by_side_in_percent_with_a_dash_for_none():
    production = {**FIGURES, "verdict_accuracy": 5 / 7, "counting_accuracy": {"wrench": 1.0}}
    table = et.side_by_side([("v2 (replayed)", FIGURES), ("v1 (production)", production)])
    assert table.loc["verdict accuracy"].to_dict() == {"v2 (replayed)": "57.1%", "v1 (production)": "71.4%"}
    assert table.loc["false-NOK rate", "v2 (replayed)"] == "—"
    # a class only one side counted is a dash on the other
    assert table.loc["counting accuracy: tape"].to_dict() == {
        "v2 (replayed)": "42.9%",
        "v1 (production)": "—",
    }
    assert table.loc["verified inspections", "v1 (production)"] == "7"
    classify = et.figure_rows({"verified": 2, "class_accuracy": 0.5, "per_class_accuracy": {"ok": 1.0}})
    assert classify["class accuracy"] == "50.0%" and classify["class accuracy: ok"] == "100.0%"


def test_a_gate_and_its_refusal_in_words():
    assert (
        et.gate_text({"model_name": "m", "gated": False})
        == "m is not gated: production moves without a replay."
    )
    gated = {"model_name": "m", "gated": True, "judged_by": [{"station": "s1", "min_verified": 30}]}
    assert "s1 (at least 30 verified)" in et.gate_text(gated)
    assert "no active station serves" in et.gate_text({**gated, "judged_by": []})
    body = {
        "failed_rules": ["too_few_verified", "verdict_accuracy"],
        "gate": {
            "version": 2,
            "production_version": 1,
            "reasons": [],
            "stations": [
                {
                    "station": "s1",
                    "passed": False,
                    "verified": 7,
                    "min_verified": 30,
                    "candidate": {"verdict_accuracy": 0.5, "nok_recall": 1.0},
                    "production": {"verdict_accuracy": 0.75, "nok_recall": 0.5},
                    "reasons": ["replay r replayed 7 verified inspections; the gate asks for at least 30"],
                }
            ],
        },
    }
    assert et.refusal_lines(body) == [
        "Failed: too few verified inspections replayed, verdict accuracy below production's.",
        "At s1: replay r replayed 7 verified inspections; the gate asks for at least 30.",
    ]
    [row] = et.refusal_table(body).to_dict("records")
    assert row["verified"] == "7 of at least 30" and row["passed"] == "no"
    assert (row["verdict accuracy v2"], row["verdict accuracy v1"]) == ("50.0%", "75.0%")


def test_answers_in_words_and_their_boxes_in_both_shapes():
    replayed = {
        "verdict": "OK",
        "counts": {"wrench": 1, "tape": 1},
        "boxes": [{"label": "wrench", "confidence": 0.91, "x1": 1, "y1": 2, "x2": 30, "y2": 40}],
    }
    assert et.answer_text(replayed) == "OK · tape 1, wrench 1"
    assert et.answer_text({"verdict": "NOK", "counts": {}}) == "NOK · nothing found"
    assert et.answer_text({"verdict": "NOK", "class": "scratch"}) == "NOK · scratch"
    assert et.answer_text(None) == "—"
    [(boxes, colour, tag)] = et.box_groups(replayed, et.CANDIDATE_COLOUR)
    assert (boxes[0]["x2"], colour, tag) == (30, et.CANDIDATE_COLOUR, "wrench 0.91")
    # an inspection's predictions: the box nested, the ones under the station's floor left out
    stored = {
        "predictions": [
            {"label": "tape", "confidence": 0.8, "box": {"x1": 0, "y1": 0, "x2": 5, "y2": 5}},
            {"label": "tape", "confidence": 0.3, "box": {"x1": 9, "y1": 9, "x2": 20, "y2": 20}},
            {"label": "ok", "class_id": 0, "confidence": 0.9},  # a class, no box
        ]
    }
    assert [t for _, _, t in et.box_groups(stored, et.PRODUCTION_COLOUR, floor=0.5)] == ["tape 0.80"]
