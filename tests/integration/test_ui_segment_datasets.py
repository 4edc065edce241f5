"""The Datasets page for segment datasets against the real gateway and registry: an engineer creates one
on the page, a YOLO segmentation zip (generated plates with cracks and spots) goes in, and the page shows
its items with their outlines, the instances and mask area per class as the registry counts them, the
segment import formats, and a polygon import the registry refuses is said with its reasons."""

import io
import random
import zipfile
from pathlib import Path

import pytest

from linesight_ui.gateway import GatewayClient, GatewayError
from linesight_ui.masks import Instance, yolo_segment_lines
from tests.integration.test_ui_pages import (  # noqa: F401 - start_stack is a fixture
    button,
    open_page,
    start_stack,
)
from tests.support.segment_data import SEGMENT_CLASSES, draw_surface, write_segment_splits

pytestmark = pytest.mark.integration

NAME = "plates"


def segment_zip(root: Path, images: int = 5) -> bytes:
    write_segment_splits(root, {"train": images}, seed=3)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(root).as_posix())
    return out.getvalue()


def test_an_engineer_creates_a_segment_dataset_and_sees_its_outlines_and_mask_areas(
    monkeypatch,
    start_stack,  # noqa: F811 - the fixture imported above
    tmp_path,
):
    stack = start_stack(inference=False)
    at = open_page(monkeypatch, stack, "engineer", "6_Datasets.py")
    at.text_input(key="datasets_new_name").set_value(NAME)
    at.selectbox(key="datasets_new_task").set_value("segment")
    at.text_area(key="datasets_new_classes").set_value("crack, spot")
    button(at, "Create dataset").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    made = stack.api.get(f"/api/v1/datasets/{NAME}").json()
    assert (made["task"], made["class_names"]) == ("segment", SEGMENT_CLASSES)
    assert any("no item yet" in i.value for i in at.info)

    # the import view names the segment formats
    at.radio(key="datasets_view").set_value("Import").run()
    assert "YOLO segmentation zip" in " ".join(at.radio(key="datasets_import_format").options)
    assert any("brush masks become polygons" in c.value for c in at.caption)

    resp = stack.api.post(
        f"/api/v1/datasets/{NAME}/imports",
        files={"file": ("plates.zip", segment_zip(tmp_path / "zip"), "application/zip")},
        data={"format": "yolo"},
    )
    assert resp.status_code == 200, resp.text
    stats = stack.api.get(f"/api/v1/datasets/{NAME}/stats").json()
    assert sum(stats["instances_per_class"].values()) > 0

    at.radio(key="datasets_view").set_value("Items").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert len(at.image) == 5  # each item, with its outlines drawn
    captions = [c for image in at.image for c in image.captions]
    assert all(" · import · " in c for c in captions)
    assert any("crack" in c or "spot" in c for c in captions)
    per_class = next(d.value for d in at.dataframe if "mask area (px)" in d.value.columns)
    assert per_class.to_dict("records") == [
        {
            "class": name,
            "instances": stats["instances_per_class"].get(name, 0),
            "mask area (px)": round(stats["mask_area_px_per_class"].get(name) or 0.0),
            "mean share of the image": pytest.approx(round(stats["mask_share_per_class"][name], 4))
            if stats["mask_share_per_class"].get(name) is not None
            else pytest.approx(float("nan"), nan_ok=True),
        }
        for name in SEGMENT_CLASSES
    ]
    items = next(d.value for d in at.dataframe if "sha256" in d.value.columns)
    assert len(items) == 5 and not items["labels"].str.contains("box").any()


def test_a_segment_dataset_item_with_a_crossing_outline_is_refused_with_the_reason(
    monkeypatch,
    start_stack,  # noqa: F811 - the fixture imported above
):
    """The YOLO-seg lines the page sends for a photo with outlines are the registry's format: an outline
    that crosses itself is refused with the reason and nothing is stored (sent through the page's client:
    AppTest cannot upload a file)."""
    stack = start_stack(inference=False)
    assert stack.api.post(
        "/api/v1/datasets", json={"name": NAME, "task": "segment", "class_names": SEGMENT_CLASSES}
    ).is_success
    at = open_page(monkeypatch, stack, "engineer", "6_Datasets.py")
    bow_tie = Instance("crack", ((10.0, 10.0), (60.0, 50.0), (60.0, 10.0), (10.0, 50.0)))
    img, _ = draw_surface(random.Random(5))
    photo = io.BytesIO()
    img.save(photo, format="PNG")
    client = GatewayClient(stack.url, stack.keys["engineer"], retries=0)
    with pytest.raises(GatewayError) as refused:
        client.add_dataset_item(
            NAME,
            photo.getvalue(),
            "p.png",
            "image/png",
            labels=yolo_segment_lines([bow_tie], *img.size, SEGMENT_CLASSES),
        )
    assert refused.value.status == 422
    assert "cross" in (refused.value.detail + " ".join(refused.value.problems)).lower()
    assert stack.api.get(f"/api/v1/datasets/{NAME}").json()["item_count"] == 0
    at.run()
    assert any("no item yet" in i.value for i in at.info)
