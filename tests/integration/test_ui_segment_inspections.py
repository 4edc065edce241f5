"""Segment inspections on Inspect and History against the real gateway, registry and inference service: a
plate with a crack at a station that allows none is NOK, the page draws the outlines over the photo,
says the failed rule in words and lists the defects; an operator sends the outlines as the correction
and the gateway keeps them as the feedback's instances. Where the gateway has no segment stations yet
(branch h/segstation), the test says so and stops."""

import io
import random

import pytest

from tests.integration.test_ui_pages import (  # noqa: F401 - start_stack is a fixture
    button,
    open_page,
    start_stack,
)
from tests.integration.test_ui_segment_stations import crack_inspection, upload_segment_model
from tests.support.segment_data import draw_surface

pytestmark = pytest.mark.integration


def crack_photo() -> bytes:
    seed = 11
    img, (inst,) = draw_surface(random.Random(seed), (320, 240), n=1)
    while inst.cls != 0:
        seed += 1
        img, (inst,) = draw_surface(random.Random(seed), (320, 240), n=1)
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def test_history_draws_the_outlines_says_the_rule_and_takes_a_mask_correction(
    monkeypatch,
    start_stack,  # noqa: F811 - the fixture imported above
):
    stack = start_stack()
    upload_segment_model(stack)
    inspection, found = crack_inspection(stack, crack_photo(), [[0, 0], [1, 0], [1, 1], [0, 1]])
    assert found and found[0].label == "crack"

    # Inspect, with the answer just given
    at = open_page(monkeypatch, stack, "operator", "1_Inspect.py")
    at.session_state["inspect_result"] = inspection
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any(f"{len(found)} outline" in c for i in at.image for c in i.captions)
    assert any(inspection["failed_rules"][0]["text"] in m.value for m in at.markdown if "NOK:" in m.value)
    assert any("Defects looked for: crack" in c.value for c in at.caption)

    at = open_page(monkeypatch, stack, "operator", "2_History.py")
    assert not at.exception and not at.error, [e.value for e in at.error]
    [photo] = [i for i in at.image if any("outline" in c for c in i.captions)]
    assert f"{len(found)} outline" in photo.captions[0] and "region of interest" in photo.captions[0]
    said = [m.value for m in at.markdown if "NOK:" in m.value]
    assert said and inspection["failed_rules"][0]["text"] in said[0], said
    defects = next(d.value for d in at.dataframe if "inside the region" in d.value.columns)
    assert list(defects["class"]) == [d["label"] for d in inspection["defects"]]

    at.toggle(key=f"history_correct-{inspection['id']}").set_value(True).run()
    assert not at.exception, at.exception
    kept = next(d.value for d in at.dataframe if "keep" in d.value.columns)
    assert list(kept["class"]) == [i.label for i in found] and kept["keep"].all()
    at.radio(key=f"history-verdict-{inspection['id']}").set_value("OK")
    button(at, "Send correction").click().run()
    assert not at.error, [e.value for e in at.error]
    given = stack.api.get(f"/api/v1/inspections/{inspection['id']}/feedback").json()
    assert given["corrected_verdict"] == "OK" and not given["correct"]
    assert [i["label"] for i in given["instances"]] == [i.label for i in found]
    assert len(given["instances"][0]["polygon"]) == len(found[0].polygon)
