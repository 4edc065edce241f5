"""Segment datasets in the registry on real Postgres and S3 store: items with polygons, YOLO-seg zips and
Label Studio exports (polygons and brush masks) imported or refused whole, stats with mask areas,
versions and diffs, and an export Ultralytics' own segment dataset builds on."""

import io
import json
import random
import zipfile

import cv2
import numpy as np
import pytest

from tests.integration.test_registry_datasets import (  # noqa: F401
    add,
    bucket_keys,
    create,
    import_zip,
    registry,
    ultralytics_data,
    zip_folder,
)
from tests.support.labelstudio_brush import brush_result, brush_rle
from tests.support.segment_data import (
    SEGMENT_CLASSES,
    draw_surface,
    segment_label_lines,
    write_segment_dataset,
)
from tests.support.zip_attacks import many_entry_zip

SIZE = (160, 120)
SQUARE = [(0.25, 0.25), (0.75, 0.25), (0.75, 0.75), (0.25, 0.75)]  # a quarter of the photo
BOWTIE = [(0.2, 0.2), (0.8, 0.6), (0.8, 0.2), (0.2, 0.7)]


def plate(seed: int, n: int | None = None) -> tuple[bytes, list[str], list]:
    img, instances = draw_surface(random.Random(seed), size=SIZE, n=n)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue(), segment_label_lines(instances, img.size), instances


def line(class_id: int, points) -> str:
    return f"{class_id} " + " ".join(f"{x} {y}" for x, y in points)


def filled(polygon: list, size=SIZE) -> np.ndarray:
    """The polygon filled at the image's size, vertices on pixel centres."""
    w, h = size
    out = np.zeros((h, w), np.uint8)
    cv2.fillPoly(out, [np.rint(np.array(polygon) * (w, h)).astype(np.int32)], 1)
    return out.astype(bool)


def shoelace(polygon: list) -> float:
    x, y = np.array(polygon, np.float64).T
    return abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def test_polygon_items_are_stored_and_bad_polygons_refused(registry):  # noqa: F811
    create(registry, "cracks", "segment", SEGMENT_CLASSES)
    data, lines, _ = plate(1)
    first = add(registry, "cracks", data, "\n".join(lines))
    assert first.status_code == 201, first.text
    item = first.json()
    assert item["labelled"] and len(item["labels"]) == len(lines)
    assert all(len(p["polygon"]) >= 3 and set(p) == {"class_id", "polygon"} for p in item["labels"])

    keys = bucket_keys(registry)
    other, _, _ = plate(2)
    for labels, words in [
        (line(0, BOWTIE), "crosses itself"),
        (line(0, [(0.1, 0.1), (0.5, 0.5), (0.9, 0.9)]), "degenerate"),
        (line(0, [(0.1, 0.1), (0.5, 0.1), (0.5, 0.10002)]), "less than half a pixel"),
        (line(0, [(0.1, 0.1), (1.2, 0.1), (0.5, 0.5)]), "outside the image"),
        (line(0, [(0.1, 0.1), (0.5, 0.5)]), "at least 3 points"),
        ("0 0.5 0.5 0.2 0.2", "5 values are a box"),
        ("0 0.5 0.5 0.2", "got 4 values"),
        (line(5, SQUARE), "class id 5"),
    ]:
        resp = add(registry, "cracks", other, labels)
        assert resp.status_code == 422, (labels, resp.text)
        assert words in resp.json()["detail"], resp.json()["detail"]
    assert bucket_keys(registry) == keys
    assert registry.get("/v1/datasets/cracks").json()["item_count"] == 1

    url = f"/v1/datasets/cracks/items/{item['id']}/labels"
    square = {"class_id": 1, "polygon": [list(p) for p in SQUARE]}
    # A closing copy of the first point is dropped; the stored polygon is the square.
    closed = {"class_id": 1, "polygon": [*square["polygon"], square["polygon"][0]]}
    put = registry.put(url, json={"labels": [closed]})
    assert put.status_code == 200, put.text
    assert put.json()["labels"] == [square]
    for body, words in [
        ([{"class_id": 0, "polygon": [list(p) for p in BOWTIE]}], "crosses itself"),
        ([{"class_id": 0, "cx": 0.5, "cy": 0.5, "w": 0.2, "h": 0.2}], "list of polygons"),
        ({"class_id": 0}, "list of polygons"),
    ]:
        resp = registry.put(url, json={"labels": body})
        assert resp.status_code == 422 and words in resp.json()["detail"], resp.text
    assert registry.get(f"/v1/datasets/cracks/items/{item['id']}").json()["labels"] == [square]
    create(registry, "bench", "detect", ["a", "b"])
    boxes = add(registry, "bench", other, "").json()
    refused = registry.put(f"/v1/datasets/bench/items/{boxes['id']}/labels", json={"labels": [square]})
    assert refused.status_code == 422 and "list of boxes" in refused.json()["detail"]


def test_yolo_seg_zips_are_imported_or_refused_whole(registry, tmp_path):  # noqa: F811
    create(registry, "cracks", "segment", SEGMENT_CLASSES)
    write_segment_dataset(tmp_path / "seg", n_train=6, n_val=2, seed=4)
    report = import_zip(registry, "cracks", zip_folder(tmp_path / "seg"))
    assert report.status_code == 200, report.text
    assert (report.json()["images"], report.json()["added"]) == (8, 8)
    items = registry.get("/v1/datasets/cracks/items", params={"limit": 500}).json()["items"]
    written = sorted((tmp_path / "seg" / "labels").rglob("*.txt"))
    assert sorted(len(i["labels"]) for i in items) == sorted(len(p.read_text().splitlines()) for p in written)
    # The polygons are the file's, point for point.
    label = written[0].read_text().splitlines()[0].split()
    points = [[float(x), float(y)] for x, y in zip(label[1::2], label[2::2], strict=True)]
    assert {"class_id": int(label[0]), "polygon": points} in [p for i in items for p in i["labels"]]

    keys = bucket_keys(registry)
    good, lines, _ = plate(30)
    bad = io.BytesIO()
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("data.yaml", "names: [crack, spot]\n")
        zf.writestr("images/train/good.png", good)
        zf.writestr("labels/train/good.txt", "\n".join(lines))
        for n, labels in enumerate(
            [
                line(0, BOWTIE),
                line(1, [(0.1, 0.1), (0.4, 0.1)]),
                line(0, [(0.1, 0.1), (0.5, 0.1), (0.5, -0.2)]),
            ]
        ):
            zf.writestr(f"images/train/bad{n}.png", plate(40 + n)[0])
            zf.writestr(f"labels/train/bad{n}.txt", labels)
        zf.writestr("images/train/box.png", plate(50)[0])
        zf.writestr("labels/train/box.txt", "0 0.5 0.5 0.1 0.1\n")
        zf.writestr("../evil.png", good)
    refused = import_zip(registry, "cracks", bad.getvalue())
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["error_count"] == len(problem["errors"]) == 5
    text = "\n".join(problem["errors"])
    for words in (
        "bad0.txt: line 1: the polygon crosses itself",
        "bad1.txt",
        "bad2.txt",
        "box.txt",
        "path traversal",
    ):
        assert words in text, text
    many = import_zip(registry, "cracks", many_entry_zip(25_000))
    assert many.status_code == 422 and "more than 20000 entries" in many.json()["detail"]
    assert bucket_keys(registry) == keys
    assert registry.get("/v1/datasets/cracks").json()["item_count"] == 8


def ls_export(tasks: list[dict], images: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("export.json", json.dumps(tasks))
        for name, data in images.items():
            zf.writestr(name, data)
    return buf.getvalue()


def ls_task(n: int, image: str, results: list[dict]) -> dict:
    return {
        "id": n,
        "data": {"image": f"/data/upload/1/0badcafe-{image}"},
        "annotations": [{"result": results}],
    }


def test_labelstudio_polygons_and_brush_masks_become_polygons(registry):  # noqa: F811
    create(registry, "cracks", "segment", SEGMENT_CLASSES)
    w, h = SIZE
    drawn, _, _ = plate(60, n=0)
    # A brush layer with a blob, a crack one pixel wide drawn diagonally, two squares that touch only at
    # a corner (one region, whose outline must not pass that corner twice), and a stray pixel.
    mask = np.zeros((h, w), np.uint8)
    cv2.circle(mask, (40, 40), 15, 1, -1)
    cv2.line(mask, (90, 20), (150, 100), 1, 1)
    mask[80:90, 10:20] = mask[90:100, 20:30] = 1
    mask[110, 10] = 1
    polygon = {
        "type": "polygonlabels",
        "original_width": w,
        "original_height": h,
        "value": {"points": [[10, 60], [50, 60], [50, 90], [10, 90]], "polygonlabels": ["spot"]},
    }
    tasks = [ls_task(1, "brush.png", [brush_result(mask, "crack")]), ls_task(2, "poly.png", [polygon])]
    images = {"brush.png": drawn, "poly.png": plate(61, n=0)[0]}
    report = import_zip(registry, "cracks", ls_export(tasks, images), "labelstudio")
    assert report.status_code == 200, report.text
    assert report.json()["added"] == 2
    assert any("1 brush region(s) too small" in warning for warning in report.json()["warnings"])
    items = registry.get("/v1/datasets/cracks/items", params={"limit": 10}).json()["items"]
    by_count = sorted(items, key=lambda i: len(i["labels"]))
    assert by_count[0]["labels"] == [
        {"class_id": 1, "polygon": [[0.1, 0.6], [0.5, 0.6], [0.5, 0.9], [0.1, 0.9]]}
    ]
    brushed = by_count[1]["labels"]
    assert [p["class_id"] for p in brushed] == [0, 0, 0]
    # Filled again, each traced region is the region drawn, the crack one pixel wide included.
    regions = cv2.connectedComponents(mask, connectivity=8)[1]
    for p in brushed:
        back = filled(p["polygon"])
        region = regions == np.bincount(regions[back]).argmax()
        assert iou(back, region) >= 0.95, iou(back, region)

    keys = bucket_keys(registry)
    wrong_size = brush_result(np.ones((h // 2, w // 2), np.uint8), "crack")
    short = brush_result(mask, "crack")
    short["value"]["rle"] = short["value"]["rle"][: len(short["value"]["rle"]) // 2]
    lying = brush_result(mask, "crack")
    lying["value"]["rle"] = brush_rle(np.ones((h, w - 1), np.uint8))
    crossing = {
        **polygon,
        "value": {"points": [[x * 100, y * 100] for x, y in BOWTIE], "polygonlabels": ["spot"]},
    }
    fresh = {f"p{n}.png": plate(70 + n, n=0)[0] for n in range(4)}
    tasks = [
        ls_task(n, name, [result])
        for n, (name, result) in enumerate(zip(fresh, [wrong_size, short, lying, crossing], strict=True))
    ]
    refused = import_zip(registry, "cracks", ls_export(tasks, fresh), "labelstudio")
    assert refused.status_code == 422, refused.text
    errors = refused.json()["errors"]
    assert len(errors) == 4, errors
    assert (
        "task 0: the brush mask of class 'crack' is of the wrong size: it is for a 80x60 image" in errors[0]
    )
    assert "ends in the middle of a run" in errors[1]
    assert "wrong size: it holds 76320 values" in errors[2]
    assert "crosses itself" in errors[3]
    assert bucket_keys(registry) == keys
    assert registry.get("/v1/datasets/cracks").json()["item_count"] == 2


def test_stats_versions_and_an_export_ultralytics_builds_a_segment_dataset_from(
    registry,  # noqa: F811
    tmp_path,
    ultralytics_data,  # noqa: F811
):
    create(registry, "cracks", "segment", SEGMENT_CLASSES)
    added = []
    for seed in range(80, 90):
        data, lines, _ = plate(seed)
        added.append(add(registry, "cracks", data, "\n".join(lines)).json())
    square, _, _ = plate(99, n=0)
    background = add(registry, "cracks", plate(98, n=0)[0], "").json()
    squared = add(registry, "cracks", square, line(1, SQUARE)).json()
    stats = registry.get("/v1/datasets/cracks/stats").json()
    labels = [p for i in added for p in i["labels"]]
    for class_id, name in enumerate(SEGMENT_CLASSES):
        polygons = [p for p in labels if p["class_id"] == class_id] + (
            [squared["labels"][0]] if class_id else []
        )
        assert stats["instances_per_class"][name] == len(polygons)
        shares = [shoelace(p["polygon"]) for p in polygons]
        assert stats["mask_area_px_per_class"][name] == pytest.approx(
            sum(shares) * SIZE[0] * SIZE[1], rel=1e-4
        )
        assert stats["mask_share_per_class"][name] == pytest.approx(sum(shares) / len(shares), rel=1e-3)
    assert stats["images_without_labels"] == 1 and stats["items"] == 12
    # The square covers a quarter of its 160x120 photo: 4800 pixels of the spot area.
    with_square = stats["mask_area_px_per_class"]["spot"]
    registry.delete(f"/v1/datasets/cracks/items/{squared['id']}")
    assert with_square - registry.get("/v1/datasets/cracks/stats").json()["mask_area_px_per_class"][
        "spot"
    ] == (pytest.approx(4800, abs=0.2))

    v1 = registry.post("/v1/datasets/cracks/versions", json={}).json()
    assert v1["task"] == "segment" and v1["item_count"] == 11 and v1["unlabelled"] == 1
    assert sum(v1["class_counts"].values()) == len(labels)
    relabel = f"/v1/datasets/cracks/items/{added[0]['id']}/labels"
    assert (
        registry.put(
            relabel, json={"labels": [*added[0]["labels"][:1], {"class_id": 1, "polygon": SQUARE}]}
        ).status_code
        == 200
    )
    v2 = registry.post("/v1/datasets/cracks/versions", json={}).json()
    assert v2["diff"] == {"against": 1, "added": 0, "removed": 0, "relabelled": 1}
    assert registry.get("/v1/datasets/cracks/versions/2/diff").json()["relabelled"] == [added[0]["sha256"]]

    # A segment version trains a -seg architecture, judged by default on mask mAP50-95; a detect or
    # classify architecture is refused before anything is made or queued.
    run = {"dataset": "cracks", "dataset_version": 2, "model_name": "cracks-seg"}
    for architecture in ("yolov8n.yaml", "yolo11n-cls.yaml"):
        refused = registry.post("/v1/training-runs", json={**run, "architecture": architecture})
        assert refused.status_code == 422 and "yolov8n-seg.yaml" in refused.json()["detail"], refused.text
    assert registry.get("/v1/models/cracks-seg").status_code == 404
    assert registry.get("/v1/training-runs").json()["total"] == 0
    queued = registry.post("/v1/training-runs", json={**run, "architecture": "yolov8n-seg.yaml"})
    assert queued.status_code == 201, queued.text
    assert (queued.json()["task"], queued.json()["status"]) == ("segment", "queued")
    assert queued.json()["selection_metric"] == "mask_mAP50-95"
    assert registry.get("/v1/models/cracks-seg").json()["task"] == "segment"
    assert registry.post(f"/v1/training-runs/{queued.json()['id']}/cancel").status_code == 200

    export = registry.get("/v1/datasets/cracks/versions/2/export")
    assert export.status_code == 200
    root = tmp_path / "export"
    with zipfile.ZipFile(io.BytesIO(export.content)) as zf:
        zf.extractall(root)
    data = ultralytics_data.check_det_dataset(str(root / "data.yaml"), autodownload=False)
    assert data["names"] == dict(enumerate(SEGMENT_CLASSES))
    manifest = json.loads((root / "manifest.json").read_text())
    expected = {i["sha256"]: i["labels"] for i in manifest["items"]}
    from ultralytics.data.dataset import YOLODataset

    seen = 0
    for split in ("train", "val", "test"):
        if not (root / "images" / split).exists():
            continue
        built = YOLODataset(
            img_path=str(root / "images" / split), data=data, task="segment", imgsz=160, augment=False
        )
        for lb in built.labels:
            sha = lb["im_file"].rsplit("/", 1)[1].split(".")[0]
            want = expected[sha]
            assert lb["cls"].ravel().tolist() == [p["class_id"] for p in want]
            assert len(lb["segments"]) == len(want)
            for got, p in zip(lb["segments"], want, strict=True):
                assert np.allclose(got, p["polygon"], atol=1e-6)  # Ultralytics reads them as float32
            seen += 1
    assert seen == len(manifest["items"]) == 11
    assert background["sha256"] in expected and expected[background["sha256"]] == []


def test_a_segment_dataset_through_the_gateway(gateway_stack, tmp_path):
    gw, engineer = gateway_stack, gateway_stack.keys["engineer"]
    body = {"name": "cracks", "task": "segment", "class_names": SEGMENT_CLASSES}
    assert gw.post("/api/v1/datasets", json=body, headers=engineer).status_code == 201
    write_segment_dataset(tmp_path / "seg", n_train=3, n_val=1, seed=9)
    files = {"file": ("seg.zip", zip_folder(tmp_path / "seg"), "application/zip")}
    report = gw.post(
        "/api/v1/datasets/cracks/imports", files=files, data={"format": "yolo"}, headers=engineer
    )
    assert report.status_code == 200 and report.json()["added"] == 4, report.text
    data, _, _ = plate(5, n=0)
    files = {"file": ("p.png", data, "image/png")}
    added = gw.post(
        "/api/v1/datasets/cracks/items", files=files, data={"labels": line(1, SQUARE)}, headers=engineer
    )
    assert added.status_code == 201 and added.json()["labels"][0]["polygon"] == [list(p) for p in SQUARE]
    stats = gw.get("/api/v1/datasets/cracks/stats", headers=gateway_stack.keys["viewer"]).json()
    assert stats["mask_area_px_per_class"]["spot"] >= 4800 and stats["items"] == 5

    bad = io.BytesIO()
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("data.yaml", "names: [crack, spot]\n")
        zf.writestr("images/train/a.png", plate(6)[0])
        zf.writestr("labels/train/a.txt", line(0, BOWTIE))
    files = {"file": ("bad.zip", bad.getvalue(), "application/zip")}
    refused = gw.post(
        "/api/v1/datasets/cracks/imports", files=files, data={"format": "yolo"}, headers=engineer
    )
    assert refused.status_code == 422 and refused.json()["error_count"] == 1
    assert "a.txt: line 1: the polygon crosses itself" in refused.json()["errors"][0]
    put = gw.put(
        f"/api/v1/datasets/cracks/items/{added.json()['id']}/labels",
        json={"labels": [{"class_id": 0, "polygon": [list(p) for p in BOWTIE]}]},
        headers=engineer,
    )
    assert put.status_code == 422 and "crosses itself" in put.json()["detail"]
    assert gw.get("/api/v1/datasets/cracks", headers=engineer).json()["item_count"] == 5
