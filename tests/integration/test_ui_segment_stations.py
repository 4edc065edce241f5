"""The Stations page for segment models against the real gateway and registry: the new-station form of a
segment model asks for defect rules per class of the model, mm per pixel and a region of interest, says a
mistyped region in words and shows the gateway's refusal with its reasons; a segment station's saved
rules, calibration and region are shown and changed on the page (where the gateway has segment
stations: the test says so and stops where it has not)."""

import pytest

from linesight_ui import masks
from tests.integration.conftest import ADMIN_KEY
from tests.integration.test_ui_pages import (  # noqa: F401 - start_stack is a fixture
    button,
    open_page,
    start_stack,
)
from tests.support.segment_data import SEGMENT_CLASSES
from tests.support.yolo_models import segment_model

pytestmark = pytest.mark.integration

MODEL = "plates"


def upload_segment_model(stack) -> None:
    assert stack.api.post("/api/v1/models", json={"name": MODEL, "task": "segment"}).status_code == 201
    with open(segment_model(), "rb") as fh:
        up = stack.api.post(f"/api/v1/models/{MODEL}/versions", files={"file": ("m.onnx", fh)})
    assert up.status_code == 201, up.text
    assert stack.api.put(f"/api/v1/models/{MODEL}/aliases/production", json={"version": 1}).is_success


def segment_station(stack, **fields) -> dict:
    """A segment station `plate-line` of the model, made through the gateway; the test stops (skipped,
    saying why) where the gateway has no segment stations yet (branch h/segstation)."""
    body = {"name": "plate-line", "mode": "segment", "model_name": MODEL, **fields}
    made = stack.api.post("/api/v1/stations", json=body)
    if made.status_code == 422 and "'detect' or 'classify'" in made.text:
        pytest.skip(f"this gateway has no segment stations yet (branch h/segstation): {made.text}")
    assert made.status_code == 201, made.text
    return made.json()


def crack_inspection(stack, photo: bytes, roi: list[list[float]]) -> tuple[dict, list]:
    """A photo inspected at a segment station that allows no crack: the answer and its outlines."""
    station = segment_station(stack, defect_rules=[{"label": "crack", "max_count": 0}], roi=roi)
    inspection = stack.inspect(station["id"], photo)
    found = masks.inspection_instances(inspection, masks.low_confidence(station))
    assert inspection["verdict"] == "NOK" and inspection["failed_rules"] and found, inspection
    return inspection, found


def rules_table(at):
    return next(d.value for d in at.dataframe if "max_length" in d.value.columns)


def test_a_segment_station_is_set_up_with_rules_calibration_and_region(
    monkeypatch,
    start_stack,  # noqa: F811 - the fixture imported above
):
    stack = start_stack(inference=False)
    upload_segment_model(stack)
    stack.keys["admin"] = ADMIN_KEY
    at = open_page(monkeypatch, stack, "admin", "7_Stations.py")
    at.radio(key="stations_view").set_value("New station").run()
    assert not at.exception, at.exception
    [model] = [s for s in at.selectbox if s.label == "Model"]
    assert model.value == MODEL and "(segment)" in model.format_func(MODEL)
    rows = rules_table(at)
    assert list(rows["class"]) == SEGMENT_CLASSES and not rows["defect"].any()
    assert any("a segment station needs at least one" in c.value for c in at.caption)
    [roi] = [t for t in at.text_input if t.label == "Region of interest (optional)"]
    roi.set_value("0.1,0.1; 1.4,0.1").run()
    errors = " ".join(e.value for e in at.error)
    assert "Point 2 (1.4,0.1) lies outside the photo" in errors
    [roi] = [t for t in at.text_input if t.label == "Region of interest (optional)"]
    roi.set_value("0.1,0.1; 0.9,0.1; 0.9,0.9; 0.1,0.9").run()
    assert not at.error
    [name] = [t for t in at.text_input if t.label == "Name"]
    name.set_value("plate-line")
    button(at, "Create the station").click().run()
    # no class ticked as a defect: the gateway refuses the station and the page says why
    refusal = " ".join(e.value for e in at.error)
    assert "Could not create the station: the gateway answered 422" in refusal, refusal
    assert stack.api.get("/api/v1/stations").json()["total"] == 0

    sid = segment_station(
        stack, defect_rules=[{"label": "crack", "max_length": 5, "unit": "mm"}], mm_per_pixel=0.1
    )["id"]
    at.radio(key="stations_view").set_value("Stations").run()
    at.session_state[f"stations-tab-{sid}"] = "Settings"
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    rows = rules_table(at)
    assert rows.set_index("class").loc["crack", ["defect", "max_length", "unit"]].tolist() == [
        True,
        5.0,
        "mm",
    ]
    [mm] = [n for n in at.number_input if n.label == "mm per pixel"]
    assert mm.value == pytest.approx(0.1)
    mm.set_value(0.05)
    [roi] = [t for t in at.text_input if t.label == "Region of interest (optional)"]
    roi.set_value("0.2,0.2; 0.8,0.2; 0.8,0.8; 0.2,0.8").run()
    button(at, "Save changes").click().run()
    assert not at.error, [e.value for e in at.error]
    saved = stack.api.get(f"/api/v1/stations/{sid}").json()
    assert saved["mm_per_pixel"] == pytest.approx(0.05)
    assert saved["roi"] == [[0.2, 0.2], [0.8, 0.2], [0.8, 0.8], [0.2, 0.8]]
    assert [(r["label"], r["max_length"], r["unit"]) for r in saved["defect_rules"]] == [("crack", 5.0, "mm")]
