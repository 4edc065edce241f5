"""A photo taken while the model is away (Streamlit's AppTest, on the real gateway and registry): Inspect
says it is kept, reads it again, and shows the answer once the gateway has judged it with the model back."""

import os
import random
import time

import pytest

from linesight_inference.main import create_app as create_inference
from linesight_inference.settings import InferenceSettings
from tests.integration.test_ui_pages import button, markdown, open_page, start_stack  # noqa: F401
from tests.support.servers import serve
from tests.support.synthetic import draw_scene, jpeg

pytestmark = pytest.mark.integration


def test_a_pending_inspection_shows_its_answer_once_the_model_is_back(monkeypatch, start_stack):  # noqa: F811
    monkeypatch.setenv("LINESIGHT_REPROCESS_INTERVAL_SECONDS", "0.5")
    stack = start_stack(inference=False)
    stack.detect_station()
    photo, _ = draw_scene(random.Random(5), present=[0, 1, 2])

    at = open_page(monkeypatch, stack, "operator", "1_Inspect.py")
    at.radio(key="inspect_source").set_value("File").run()
    at.file_uploader(key="inspect_file").set_value(("bench.jpg", jpeg(photo), "image/jpeg")).run()
    button(at, "Inspect").click().run()
    assert not at.exception and not at.error
    assert "The photo is kept" in at.warning[0].value
    assert any(c.value.startswith("Still waiting (checked ") for c in at.caption)

    # The inference service comes back where the gateway looks for it; the gateway judges the photo.
    port = int(os.environ["LINESIGHT_INFERENCE_URL"].rsplit(":", 1)[1])
    with serve(create_inference(InferenceSettings()), port=port):
        deadline = time.monotonic() + 60
        while stack.api.get("/api/v1/inspections", params={"status": "pending"}).json()["total"]:
            assert time.monotonic() < deadline, "the gateway did not judge the kept photo"
            time.sleep(0.3)
        button(at, "Check again").click().run()  # what the page does by itself every few seconds

    assert not at.exception and not at.error, [e.value for e in at.error]
    assert not at.warning
    assert any(":green-background[" in m and "OK" in m for m in markdown(at))
    assert len(at.image) == 1
    assert [s.value for s in at.subheader] == ["Was this answer right?"]
