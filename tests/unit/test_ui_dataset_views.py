"""The Datasets page's arithmetic and texts: boxes drawn on a photo become the YOLO lines the gateway
takes and come back from an item's labels at any display size, classes typed for a new dataset, paging."""

import io
import uuid
from datetime import UTC, datetime

import pytest
from PIL import Image

from linesight_core.contracts.datasets import DatasetItemOut, VersionDiff
from linesight_ui.boxes import Box
from linesight_ui.dataset_views import (
    PALETTE,
    diff_table,
    diff_text,
    draw_item,
    item_boxes,
    labels_text,
    last_page,
    new_dataset_problems,
    parse_classes,
    photo_size,
    shown_range,
    shrink,
    size_text,
    yolo_lines,
)

CLASSES = ["wrench", "screwdriver", "tape"]


def item(labels, width=640, height=480) -> DatasetItemOut:
    now = datetime.now(UTC)
    return DatasetItemOut.model_validate(
        {
            "id": uuid.uuid4(),
            "dataset": "bench",
            "sha256": "0" * 64,
            "image_key": "images/00/x.jpg",
            "width": width,
            "height": height,
            "size_bytes": 1,
            "labels": labels,
            "labelled": bool(labels),
            "split": "train",
            "source": "upload",
            "origin": "",
            "created_at": now,
            "updated_at": now,
        }
    )


def corners(box: Box) -> tuple[float, float, float, float]:
    return (box.x1, box.y1, box.x2, box.y2)


def photo(width=640, height=480) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(out, format="PNG")
    return out.getvalue()


def test_drawn_boxes_become_yolo_lines_and_come_back_from_the_labels():
    drawn = [Box("screwdriver", 64, 48, 192, 240), Box("wrench", 320, 0, 640, 480)]
    lines = yolo_lines(drawn, 640, 480, CLASSES)
    assert lines.splitlines() == [
        "1 0.200000 0.300000 0.200000 0.400000",
        "0 0.750000 0.500000 0.500000 1.000000",
    ]
    labels = [
        dict(zip(("class_id", "cx", "cy", "w", "h"), map(float, ln.split()), strict=True))
        for ln in lines.splitlines()
    ]
    stored = item([{**lab, "class_id": int(lab["class_id"])} for lab in labels])
    back = item_boxes(stored, CLASSES, 640, 480)
    assert [b.label for b in back] == [b.label for b in drawn]
    for got, want in zip(back, drawn, strict=True):
        assert corners(got) == pytest.approx(corners(want))
    # shown at half the size (a thumbnail), the boxes shrink with the picture
    half = item_boxes(stored, CLASSES, 320, 240)[0]
    assert half.label == "screwdriver" and corners(half) == pytest.approx((32, 24, 96, 120))
    assert labels_text(stored, CLASSES) == "1 screwdriver, 1 wrench"


def test_labels_in_words_for_each_kind_of_item():
    assert labels_text(item([]), CLASSES) == "no boxes"
    assert labels_text(item(None), CLASSES) == "no class"
    assert labels_text(item({"class_id": 2}), CLASSES) == "tape"
    assert (
        labels_text(item([{"class_id": 7, "cx": 0.5, "cy": 0.5, "w": 0.1, "h": 0.1}]), CLASSES) == "1 class 7"
    )


def test_an_items_boxes_are_drawn_in_its_class_colour_on_a_thumbnail():
    stored = item([{"class_id": 1, "cx": 0.5, "cy": 0.5, "w": 0.5, "h": 0.5}], 640, 480)
    small = shrink(photo(640, 480), 320)
    assert photo_size(small) == (320, 240)
    drawn = Image.open(io.BytesIO(draw_item(small, stored, CLASSES))).convert("RGB")
    assert drawn.size == (320, 240)
    assert drawn.getpixel((80, 160)) == PALETTE[1]  # the box's left edge, under its tag
    assert drawn.getpixel((160, 120)) == (255, 255, 255)  # inside the box: the photo


def test_classes_typed_one_a_line_or_with_commas():
    assert parse_classes("wrench\n screwdriver , tape\n\n") == CLASSES
    assert parse_classes("  ") == []


def test_a_new_datasets_name_and_classes_are_checked_in_words():
    assert new_dataset_problems("bench-2", CLASSES) == []
    assert new_dataset_problems("", CLASSES) == ["Give the dataset a name."]
    [bad_name] = new_dataset_problems("Bench 2", CLASSES)
    assert "'Bench 2' cannot be used" in bad_name
    assert new_dataset_problems("bench", []) == ["Give at least one class."]
    assert new_dataset_problems("bench", ["a", "b", "a"]) == ["Each class once: a repeated."]


def test_paging_texts():
    assert last_page(0, 12) == 1 and last_page(12, 12) == 1 and last_page(13, 12) == 2
    assert shown_range(12, 12, 40) == "Items 13–24 of 40"
    assert shown_range(0, 0, 0) == "No item"
    assert [size_text(n) for n in (0, 300, 7_100, 12_500_000)] == ["0 KB", "1 KB", "7 KB", "12.5 MB"]


def test_a_diff_in_words_and_as_rows():
    diff = VersionDiff(
        dataset="bench",
        version=2,
        against=1,
        added=["a", "b"],
        removed=[],
        relabelled=["c"],
        added_count=2,
        removed_count=0,
        relabelled_count=1,
    )
    assert diff_text(diff) == "Version 2 against version 1: 2 added, 0 removed, 1 relabelled."
    assert diff_table(diff).values.tolist() == [["added", "a"], ["added", "b"], ["relabelled", "c"]]
    first = diff.model_copy(update={"version": 1, "against": None})
    assert "the first" in diff_text(first)
