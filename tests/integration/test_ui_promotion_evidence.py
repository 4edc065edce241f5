"""The evidence for a promotion on the UI's pages (AppTest) against the real gateway, registry and inference
service: on Models an engineer replays a worse candidate and sees its figures next to production's and its
disagreements drawn, the gated promotion is refused in words with the figures, and an admin overrides it
with a reason (audited); a queued replay is cancelled from the page; on Stations an admin sets the shadow
alias and the station's promotion gate, and reads the shadow figures."""

import time

import pytest

from tests.integration.conftest import ADMIN_KEY
from tests.integration.test_ui_pages import button, open_page, start_stack, table_with  # noqa: F401
from tests.support.verified_history import (
    BENCHES,
    BLIND_ACCURACY,
    PRODUCTION_ACCURACY,
    blind_version,
    give_feedback,
    verified_station,
)

pytestmark = pytest.mark.integration


def rerun_until(at, done, what: str, timeout: float = 60.0):
    """Rerun the page (as a person waiting on it would see it redrawn) until `done(at)`."""
    deadline = time.monotonic() + timeout
    while not done(at):
        assert time.monotonic() < deadline, f"the page never showed {what}"
        time.sleep(0.3)
        at.run()
        assert not at.exception, at.exception
    return at


def static_table(at, column: str):
    """The first st.table on the page with `column`."""
    return next(t.value for t in at.table if column in t.value.columns)


def texts(at, kind: str) -> list[str]:
    return [e.value for e in getattr(at, kind)]


def test_a_worse_replay_is_shown_its_promotion_refused_and_an_admin_overrides_it(
    monkeypatch,
    start_stack,  # noqa: F811 - the fixture imported above
    tmp_path,
):
    monkeypatch.setenv("LINESIGHT_REPLAY_POLL_SECONDS", "0.2")
    stack = start_stack()
    history = verified_station(stack.api, tmp_path, "gate-ui", "gate-ui-1")
    gate = stack.api.put(f"/api/v1/stations/{history.station_id}/promotion-gate", json={"min_verified": 7})
    assert gate.status_code == 200, gate.text
    assert blind_version(stack.api, tmp_path, "gate-ui") == 2

    at = open_page(monkeypatch, stack, "engineer", "4_Models.py")
    assert not at.error, texts(at, "error")
    assert any(
        "gate-ui is gated" in i.value and "gate-ui-1 (at least 7 verified)" in i.value for i in at.info
    )
    assert at.selectbox(key="promote-version-gate-ui").value == 2
    assert any("v2 has no replay at gate-ui-1 yet" in i.value for i in at.info)

    at.number_input(key="replay-last-n-gate-ui").set_value(100)
    button(at, "Start replay").click().run()
    assert not at.error, texts(at, "error")
    rerun_until(
        at, lambda a: any("verified inspections replayed" in m.value for m in a.markdown), "the report"
    )
    assert any("7 verified inspections replayed, 0 skipped" in m.value for m in at.markdown)
    figures = static_table(at, "v2 (replayed)")
    assert figures.loc["verdict accuracy"].to_dict() == {
        "v2 (replayed)": f"{BLIND_ACCURACY:.1%}",
        "v1 (production)": f"{PRODUCTION_ACCURACY:.1%}",
    }
    assert figures.loc["NOK recall", "v2 (replayed)"] == "100.0%"
    assert figures.loc["verified inspections", "v2 (replayed)"] == "7"
    # the disagreements, each photo drawn with one answer: the blind version's NOK with nothing found
    captions = [c for img in at.image for c in img.captions]
    assert any(c == "v2 (replayed): NOK · nothing found" for c in captions), captions
    assert any(c.startswith("v1 (production): ") for c in captions), captions
    [job] = stack.api.get(f"/api/v1/stations/{history.station_id}/replays").json()["items"]
    drawn = [d["production"]["boxes"] for d in job["result"]["disagreements"]]
    assert all(boxes for boxes in drawn), drawn  # production found tools on every bench it disagrees on
    assert {b["label"] for boxes in drawn for b in boxes} <= {"wrench", "tape", "screwdriver"}

    at.text_input(key="promote-reason-gate-ui").set_value("try the new one")
    at.checkbox(key="promote-confirm-gate-ui").check().run()
    button(at, "Promote v2 to production").click().run()
    [refusal] = texts(at, "error")
    assert "The promotion gate refused to move gate-ui@production to v2" in refusal
    assert "verdict accuracy below production's" in refusal
    assert "verdict accuracy 0.5714 is below production v1's 0.7143" in refusal
    assert "Traceback" not in refusal
    gate_figures = static_table(at, "verdict accuracy v2")
    assert gate_figures.loc["gate-ui-1", ["passed", "verified"]].to_dict() == {
        "passed": "no",
        "verified": "7 of at least 7",
    }
    assert not [t for t in at.text_input if t.label.startswith("Override reason")]  # engineers cannot
    assert stack.api.get("/api/v1/models/gate-ui/aliases").json()[0]["version"] == 1
    # a new replay makes that refusal out of date: it is gone, the new report is shown
    button(at, "Start replay").click().run()
    rerun_until(at, lambda a: not a.get("progress"), "the second replay's end")
    assert not at.error, texts(at, "error")
    assert len(stack.api.get(f"/api/v1/stations/{history.station_id}/replays").json()["items"]) == 2

    stack.keys["admin"] = ADMIN_KEY
    admin = open_page(monkeypatch, stack, "admin", "4_Models.py")
    admin.text_input(key="promote-reason-gate-ui").set_value("the line needs it today")
    admin.checkbox(key="promote-confirm-gate-ui").check().run()
    button(admin, "Promote v2 to production").click().run()
    override = button(admin, "Override the gate and promote v2")
    assert override.disabled  # not without a reason
    admin.text_input(key="promote-override-gate-ui-2").set_value("camera moved; history unfair")
    button(admin.run(), "Override the gate and promote v2").click().run()
    assert not admin.error, texts(admin, "error")
    assert texts(admin, "success") == ["gate-ui@production is now v2 (was v1)."]
    assert stack.api.get("/api/v1/models/gate-ui/aliases").json()[0]["version"] == 2
    [event] = stack.api.get("/api/v1/audit", params={"action": "model.promotion_gate_override"}).json()[
        "items"
    ]
    assert event["details"]["override_reason"] == "camera moved; history unfair"


def test_a_queued_replay_is_cancelled_from_the_page(monkeypatch, start_stack, tmp_path):  # noqa: F811
    monkeypatch.setenv("LINESIGHT_REPLAY_POLL_SECONDS", "3600")  # the runner never gets to it
    stack = start_stack()
    history = verified_station(stack.api, tmp_path, "gate-cancel", "gate-cancel-1")
    blind_version(stack.api, tmp_path, "gate-cancel")

    at = open_page(monkeypatch, stack, "engineer", "4_Models.py")
    button(at, "Start replay").click().run()
    [bar] = at.get("progress")
    assert "waiting for the replay runner" in bar.proto.text
    button(at, "Cancel replay").click().run()
    assert not at.error, texts(at, "error")
    [job] = stack.api.get(f"/api/v1/stations/{history.station_id}/replays").json()["items"]
    assert job["status"] == "cancelled"
    assert any("cancelled" in m.value and "0 verified inspections replayed" in m.value for m in at.markdown)
    assert not at.get("progress")


def shadow_answered(stack, sid: str, count: int) -> dict:
    deadline = time.monotonic() + 60
    while True:
        report = stack.api.get(f"/api/v1/stations/{sid}/shadow").json()
        if report["answered"] + report["failed"] >= count:
            return report
        assert time.monotonic() < deadline, report
        time.sleep(0.3)


def test_stations_sets_the_shadow_alias_and_the_gate_and_shows_the_shadow_figures(
    monkeypatch,
    start_stack,  # noqa: F811 - the fixture imported above
    tmp_path,
):
    stack = start_stack()
    history = verified_station(stack.api, tmp_path, "shadow-ui", "shadow-ui-1")
    sid = history.station_id
    assert blind_version(stack.api, tmp_path, "shadow-ui") == 2
    assert stack.api.put("/api/v1/models/shadow-ui/aliases/staging", json={"version": 2}).is_success
    stack.keys["admin"] = ADMIN_KEY

    at = open_page(monkeypatch, stack, "admin", "7_Stations.py")
    at.session_state[f"stations-tab-{sid}"] = "Settings"
    at.run()
    [shadow] = [s for s in at.selectbox if s.label == "Shadow alias"]
    assert shadow.value == "off" and shadow.options == ["off", "staging → v2"]
    shadow.set_value("staging").run()
    [save] = [b for b in at.button if b.label == "Save changes"]
    save.click().run()
    assert not at.error, texts(at, "error")
    assert any("shadow alias" in s for s in texts(at, "success")), texts(at, "success")
    assert stack.api.get(f"/api/v1/stations/{sid}").json()["shadow_alias"] == "staging"
    assert table_with(at, "shadow").iloc[0]["shadow"] == "staging"

    # live inspections now answered in the shadow too: the blind version disagrees on the benches with tools
    # and verified by operators: the first three benches, truly OK, OK and NOK (no tape)
    for earlier, present in zip(history.inspections[:3], BENCHES, strict=False):
        photo = stack.api.get(f"/api/v1/inspections/{earlier['id']}/image").content
        give_feedback(stack.api, stack.inspect(sid, photo), present)
    report = shadow_answered(stack, sid, 3)
    assert report["answered"] == 3 and report["disagree"] == 3, report

    at.session_state[f"stations-tab-{sid}"] = "Promotion evidence"
    at.run()
    assert not at.error, texts(at, "error")
    assert "shadow-ui is not gated: production moves without a replay." in texts(at, "caption")
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Agreement"], metrics["Answered in the shadow"]) == ("0.0%", "3")
    assert (metrics["Verified by operators"], metrics["Shadow failures (all versions)"]) == ("3", "0")
    figures = static_table(at, "shadow v2")
    assert list(figures.columns) == ["shadow v2", "live v1"]
    assert figures.loc["verdict accuracy", "shadow v2"] == "33.3%"  # NOK everywhere: right on the NOK one
    assert figures.loc["NOK recall", "shadow v2"] == "100.0%"
    assert figures.loc["verified inspections", "live v1"] == "3"
    captions = [c for img in at.image for c in img.captions]
    assert "shadow v2: NOK · nothing found" in captions, captions

    at.number_input(key=f"gate-min-{sid}").set_value(5)
    button(at, "Gate promotions here").click().run()
    assert not at.error, texts(at, "error")
    gate = stack.api.get(f"/api/v1/stations/{sid}/promotion-gate").json()
    assert gate["gated"] and [(g["station_id"], g["min_verified"]) for g in gate["gates"]] == [(sid, 5)]
    assert any("shadow-ui's promotions are gated at shadow-ui-1" in s for s in texts(at, "success"))
    assert any(
        "shadow-ui-1 has its own gate" in i.value and "at least 5 verified" in i.value for i in at.info
    )
    button(at, "Remove the gate").click().run()
    assert not at.error, texts(at, "error")
    assert stack.api.get(f"/api/v1/stations/{sid}/promotion-gate").json()["gated"] is False
    assert "shadow-ui is not gated: production moves without a replay." in texts(at, "caption")
