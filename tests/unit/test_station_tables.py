"""The Stations page's request bodies and chart data: what a PATCH sends, the training policy as typed,
the figures per day and per model version."""

from linesight_ui import station_tables

STATION = {
    "name": "line-3-bench",
    "mode": "detect",
    "description": "",
    "model_name": "bench-tools",
    "model_alias": "production",
    "shadow_alias": None,
    "expected_items": [{"label": "wrench", "min_count": 1}, {"label": "screwdriver", "min_count": 2}],
    "ok_classes": [],
    "defect_rules": [],
    "mm_per_pixel": None,
    "roi": None,
    "thresholds": {"success": 0.7, "low_confidence": 0.5},
    "blur_faces": True,
    "blur_people": False,
    "unusual_needs_review": False,
    "active": True,
    "training": {**station_tables.POLICY_DEFAULTS, "epochs": 40},
}


def form(**changed):
    body = {k: STATION[k] for k in station_tables.EDITABLE if k != "active"}
    return {**body, **changed}


def test_a_patch_carries_only_what_changed():
    assert station_tables.changes(STATION, form()) == {}
    thresholds = {"success": 0.8, "low_confidence": 0.5}
    items = [{"label": "wrench", "min_count": 3}]
    assert station_tables.changes(STATION, form(thresholds=thresholds, expected_items=items)) == {
        "expected_items": items,
        "thresholds": thresholds,
    }
    # shadow mode turned on, then off again
    assert station_tables.changes(STATION, form(shadow_alias="staging")) == {"shadow_alias": "staging"}
    assert station_tables.changes({**STATION, "shadow_alias": "staging"}, form()) == {"shadow_alias": None}
    # a station stored before a policy field existed compares with that field's default
    older = {**STATION, "training": {"epochs": 40}}
    assert station_tables.changes(older, form()) == {}


def test_an_empty_policy_field_is_its_default():
    policy = station_tables.training_policy(
        {"dataset": "  ", "retrain_after": None, "selection_metric": "", "epochs": None, "batch": 8}
    )
    assert policy["dataset"] is None and policy["retrain_after"] is None
    assert policy["selection_metric"] is None
    assert policy["epochs"] == 30 and policy["batch"] == 8


def test_figures_per_day_and_per_model_version():
    stats = {
        "per_day": [
            {"day": "2026-12-01", "ok": 3, "nok": 1, "pending": 0},
            {"day": "2026-12-02", "ok": 0, "nok": 0, "pending": 2},
        ],
        "per_model_version": [
            {"model_version": 1, "inspections": 4, "nok_rate": 0.25, "with_feedback": 2, "correct": 1,
             "accuracy": 0.5},
            {"model_version": 2, "inspections": 2, "nok_rate": None, "with_feedback": 0, "correct": 0,
             "accuracy": None},
        ],
    }  # fmt: skip
    days = station_tables.per_day_frame(stats)
    assert list(days.index) == ["2026-12-01", "2026-12-02"]
    assert days.loc["2026-12-01", "NOK rate"] == 0.25
    assert days["NOK rate"].isna().tolist() == [False, True]  # no judged photo: no rate, not 0
    versions = station_tables.per_version_frame(stats)
    assert list(versions.index) == ["v1", "v2"]
    assert versions.loc["v1", "accuracy"] == 0.5
    assert station_tables.per_day_frame({"per_day": []}).empty
    assert station_tables.items_text(STATION) == "1 × wrench, 2 × screwdriver"
