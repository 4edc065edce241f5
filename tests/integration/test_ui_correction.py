"""Correcting a past inspection from History (Streamlit's AppTest, against the real gateway, registry and
inference service): the box editor starts from the last correction's boxes, and a correction sent with
“Use for training” becomes a dataset item with those boxes; a classify station keeps its class picker. The drawing itself is tested in the browser
(test_ui_browser_correction.py)."""

import random
import time

import pytest

from tests.integration.test_ui_pages import Stack, button, markdown, open_page, start_stack  # noqa: F401
from tests.support.synthetic import CLASSES, draw_scene, jpeg
from tests.support.yolo_models import classify_model

pytestmark = pytest.mark.integration


def dataset_item(stack: Stack, inspection_id: str, revision: int) -> dict:
    deadline = time.monotonic() + 60
    while True:
        feedback = stack.api.get(f"/api/v1/inspections/{inspection_id}/feedback").json()
        link = feedback.get("dataset") or {}
        if feedback["revision"] == revision and link.get("synced") and link.get("item_id"):
            return stack.api.get(f"/api/v1/datasets/{link['dataset']}/items/{link['item_id']}").json()
        assert time.monotonic() < deadline, feedback
        time.sleep(0.3)


def test_history_corrects_a_past_inspection_from_its_last_correction(monkeypatch, start_stack):  # noqa: F811
    monkeypatch.setenv("LINESIGHT_DATASET_SYNC_INTERVAL_SECONDS", "0.3")
    stack = start_stack()
    sid = stack.detect_station()
    photo, _ = draw_scene(random.Random(3), present=[0, 2])
    inspection = stack.inspect(sid, jpeg(photo))
    wrench = next(p["box"] for p in inspection["predictions"] if p["label"] == "wrench")
    earlier = [
        {"label": "wrench", **wrench},
        {"label": "screwdriver", "x1": 20.0, "y1": 30.0, "x2": 60.0, "y2": 120.0},
    ]
    first = {"correct": False, "corrected_verdict": "NOK", "corrected_boxes": earlier}
    resp = stack.api.post(f"/api/v1/inspections/{inspection['id']}/feedback", json=first)
    assert resp.status_code == 201, resp.text

    at = open_page(monkeypatch, stack, "operator", "2_History.py")
    assert at.selectbox(key="history_pick").value == inspection["id"]
    assert "Corrected boxes: 2 (wrench × 1, screwdriver × 1)" in [c.value for c in at.caption]
    at.toggle(key=f"history_correct-{inspection['id']}").set_value(True).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("The boxes of the last correction (revision 1) are drawn" in m for m in markdown(at))
    assert at.checkbox(key=f"history-train-{inspection['id']}").value is True
    button(at, "Send correction").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "Correction saved (revision 2)." in [s.value for s in at.success]

    feedback = stack.api.get(f"/api/v1/inspections/{inspection['id']}/feedback").json()
    assert feedback["use_for_training"] is True
    assert feedback["corrected_verdict"] == "NOK"  # no tape among the boxes
    assert feedback["corrected_boxes"] == [
        {"label": b["label"], **{k: pytest.approx(v, abs=0.06) for k, v in b.items() if k != "label"}}
        for b in earlier
    ]
    item = dataset_item(stack, inspection["id"], revision=2)
    labels = sorted(item["labels"], key=lambda label: label["class_id"])
    assert [CLASSES[label["class_id"]] for label in labels] == ["wrench", "screwdriver"]
    width, height = photo.size
    assert labels[1]["cx"] == pytest.approx(40 / width, abs=1e-4)
    assert labels[1]["h"] == pytest.approx(90 / height, abs=1e-4)


def test_history_corrects_a_classify_answer_with_the_class_picker(monkeypatch, start_stack):  # noqa: F811
    monkeypatch.setenv("LINESIGHT_DATASET_SYNC_INTERVAL_SECONDS", "0.3")
    stack = start_stack()
    assert stack.api.post("/api/v1/models", json={"name": "okcheck", "task": "classify"}).status_code == 201
    with open(classify_model(), "rb") as fh:
        up = stack.api.post("/api/v1/models/okcheck/versions", files={"file": ("m.onnx", fh)})
    assert up.status_code == 201, up.text
    assert stack.api.put("/api/v1/models/okcheck/aliases/production", json={"version": 1}).is_success
    body = {"name": "final-check", "mode": "classify", "model_name": "okcheck", "ok_classes": ["ok"]}
    station = stack.api.post("/api/v1/stations", json=body)
    assert station.status_code == 201, station.text
    photo, _ = draw_scene(random.Random(8), present=[0, 1, 2])
    inspection = stack.inspect(station.json()["id"], jpeg(photo))
    answered = inspection["predictions"][0]["label"]
    right = "nok" if answered == "ok" else "ok"

    at = open_page(monkeypatch, stack, "operator", "2_History.py")
    at.toggle(key=f"history_correct-{inspection['id']}").set_value(True).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    picker = at.selectbox(key=f"history-class-{inspection['id']}")
    assert picker.options == ["nok", "ok"]
    picker.set_value(right)
    at.checkbox(key=f"history-class-train-{inspection['id']}").check()
    button(at, "Send correction").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "Correction saved (revision 1)." in [s.value for s in at.success]

    feedback = stack.api.get(f"/api/v1/inspections/{inspection['id']}/feedback").json()
    assert (feedback["corrected_class"], feedback["corrected_verdict"]) == (
        right,
        "OK" if right == "ok" else "NOK",
    )
    item = dataset_item(stack, inspection["id"], revision=1)
    classes = stack.api.get("/api/v1/datasets/final-check").json()["class_names"]
    assert item["source"] == "feedback" and item["labels"] == {"class_id": classes.index(right)}
