"""The Admin page's words and tables (linesight_ui.admin_tables): scopes, labels, the audit details, and
the PATCH body of a user's edited fields holding only what changed."""

from linesight_ui.admin_tables import (
    actor_choices,
    audit_table,
    details_text,
    key_label,
    stations_text,
    user_changes,
    user_label,
)

STATION = "8c1d2b55-9a0e-4f51-8a21-0e3f4a5b6c7d"
USER = {
    "id": "5f0c6a1e-8b2d-4c7e-9a31-2d4e6f8a0b1c",
    "username": "mara",
    "display_name": "Mara Lindqvist",
    "role": "operator",
    "station_ids": [STATION],
    "active": True,
}
KEY = {
    "id": "1d0b2c3e-0000-4000-8000-000000000001",
    "name": "line 3 tablet",
    "prefix": "lsk_3f9a",
    "role": "viewer",
}


def test_scopes_and_labels_in_words():
    assert stations_text(None, {}) == "every station"
    assert stations_text([STATION, "gone"], {STATION: "line 3"}) == "line 3, gone"
    assert key_label(KEY) == "line 3 tablet · lsk_3f9a · viewer"
    assert user_label(USER) == "mara (Mara Lindqvist) · operator"
    assert user_label({**USER, "display_name": "mara", "active": False}) == "mara · operator, inactive"
    assert actor_choices([USER], [KEY]) == {
        USER["id"]: "mara (user)",
        KEY["id"]: "line 3 tablet (lsk_3f9a, key)",
    }


def test_audit_details_on_one_line():
    assert details_text({"name": "tablet", "station_ids": None, "sessions_ended": 2}) == (
        "name=tablet, station_ids=none, sessions_ended=2"
    )
    assert details_text({"station_ids": ["a", "b"]}) == 'station_ids=["a","b"]'
    event = {
        "at": "2026-11-02T07:55:00Z",
        "actor_name": "ada",
        "action": "api_key.create",
        "object_type": "api_key",
        "object_id": "k1",
        "details": {},
        "request_id": None,
    }
    row = audit_table([event]).iloc[0].to_dict()
    assert row["time"] == "2026-11-02 07:55:00 UTC" and row["details"] == "" and row["request id"] == ""


def test_user_changes_hold_only_what_differs():
    same = {"display_name": "Mara Lindqvist", "role": "operator", "station_ids": [STATION], "active": True}
    assert user_changes(USER, **same) == {}
    assert user_changes(USER, **{**same, "display_name": "  "}) == {}  # an emptied name is not a change
    assert user_changes(USER, **{**same, "role": "engineer", "active": False}) == {
        "role": "engineer",
        "active": False,
    }
    assert user_changes(USER, **{**same, "station_ids": []}) == {"stations": []}  # every station
