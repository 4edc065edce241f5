"""Datasets in the registry on real Postgres and S3 store: items with labels, imports that are refused
whole, stats, immutable versions with manifest and diff, and exports that Ultralytics' own dataset
checks accept."""

import hashlib
import io
import json
import os
import random
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from linesight_core.storage import ObjectStore
from linesight_registry.domain.labels import split_for
from linesight_registry.main import create_app
from linesight_registry.settings import RegistrySettings
from tests.support.synthetic import CLASSES, draw_scene, write_detect_dataset, yolo_label_lines
from tests.support.zip_attacks import many_entry_zip

TOKEN = "registry-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def registry(fresh_service_env, monkeypatch):
    for key, value in fresh_service_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("LINESIGHT_SERVICE_TOKEN", TOKEN)
    monkeypatch.setenv("LINESIGHT_LOG_FORMAT", "console")
    settings = RegistrySettings()
    with TestClient(create_app(settings)) as client:
        client.headers.update(AUTH)
        client.settings = settings
        client.store = ObjectStore.from_settings(settings)
        yield client


@pytest.fixture(scope="module")
def ultralytics_data(tmp_path_factory):
    """Ultralytics' dataset checks, imported offline with settings in a folder of this test's own."""
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ.setdefault("YOLO_CONFIG_DIR", str(tmp_path_factory.mktemp("ultralytics-config")))
    from ultralytics.data import utils

    return utils


def photo(seed: int, size=(160, 120), present=None) -> tuple[bytes, list[str]]:
    img, placed = draw_scene(random.Random(seed), size=size, present=present)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=85)
    return buf.getvalue(), yolo_label_lines(placed, img.size)


def bucket_keys(client) -> list[str]:
    bucket = client.settings.bucket("datasets")
    return sorted(o.object_name for o in client.store.client.list_objects(bucket, recursive=True))


def add(client, name, data, labels="", **form):
    return client.post(
        f"/v1/datasets/{name}/items", files={"file": ("photo.jpg", data)}, data={"labels": labels, **form}
    )


def zip_folder(root: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(root).as_posix())
    return buf.getvalue()


def import_zip(client, name, data, fmt="yolo"):
    return client.post(
        f"/v1/datasets/{name}/imports",
        files={"file": ("set.zip", data, "application/zip")},
        data={"format": fmt},
    )


def create(client, name="bench", task="detect", classes=CLASSES, **extra):
    resp = client.post("/v1/datasets", json={"name": name, "task": task, "class_names": classes, **extra})
    assert resp.status_code == 201, resp.text
    return resp.json()


def test_datasets_are_created_listed_and_updated(registry):
    body = create(registry, station="line3-bench", description="Line 3")
    assert body["class_names"] == CLASSES
    assert body["item_count"] == 0 and body["latest_version"] is None
    create(registry, "seals", "classify", ["ok", "nok"])
    assert (
        registry.post(
            "/v1/datasets", json={"name": "bench", "task": "detect", "class_names": ["a"]}
        ).status_code
        == 409
    )
    for bad in (
        {"name": "Bad Name", "task": "detect", "class_names": ["a"]},
        {"name": "x", "task": "pose", "class_names": ["a"]},
        {"name": "x", "task": "detect", "class_names": []},
        {"name": "x", "task": "detect", "class_names": ["a", "a"]},
        {"name": "x", "task": "detect", "class_names": ["a/b"]},
    ):
        resp = registry.post("/v1/datasets", json=bad)
        assert resp.status_code == 422, bad
        assert resp.headers["content-type"].startswith("application/problem+json")
    assert [d["name"] for d in registry.get("/v1/datasets", params={"task": "classify"}).json()["items"]] == [
        "seals"
    ]
    assert [
        d["name"] for d in registry.get("/v1/datasets", params={"station": "line3-bench"}).json()["items"]
    ] == ["bench"]
    page = registry.get("/v1/datasets", params={"q": "e", "limit": 1}).json()
    assert page["total"] == 2 and len(page["items"]) == 1
    assert registry.get("/v1/datasets/nope").status_code == 404

    patched = registry.patch("/v1/datasets/bench", json={"description": "new", "add_classes": ["hammer"]})
    assert patched.status_code == 200
    assert patched.json()["class_names"] == [*CLASSES, "hammer"]
    assert patched.json()["description"] == "new"
    assert registry.patch("/v1/datasets/bench", json={"add_classes": ["tape"]}).status_code == 409


def test_items_are_added_relabelled_and_bad_input_is_refused(registry):
    create(registry)
    data, lines = photo(1)
    sha = hashlib.sha256(data).hexdigest()
    first = add(registry, "bench", data, "\n".join(lines), origin="bench-camera")
    assert first.status_code == 201, first.text
    item = first.json()
    assert item["sha256"] == sha
    assert item["split"] == split_for(sha)
    assert item["image_key"] == f"images/{sha[:2]}/{sha}.jpg"
    assert (item["width"], item["height"]) == (160, 120)
    assert len(item["labels"]) == len(lines) and item["labelled"] is True
    assert item["source"] == "upload" and item["origin"] == "bench-camera"
    image = registry.get(f"/v1/datasets/bench/items/{item['id']}/image")
    assert image.status_code == 200 and image.content == data
    assert image.headers["content-type"] == "image/jpeg"

    again = add(registry, "bench", data, "0 0.5 0.5 0.2 0.2", source="feedback")
    assert again.status_code == 200
    assert again.json()["id"] == item["id"]
    assert again.json()["labels"] == [{"class_id": 0, "cx": 0.5, "cy": 0.5, "w": 0.2, "h": 0.2}]
    assert again.json()["split"] == item["split"]

    keys = bucket_keys(registry)
    other, _ = photo(2)
    gif = io.BytesIO()
    Image.new("RGB", (20, 20)).save(gif, format="GIF")
    for payload, labels, status, words in [
        (other, "3 0.5 0.5 0.2 0.2", 422, "class id 3"),
        (other, "0 0.95 0.5 0.2 0.2", 422, "outside the image"),
        (other, "0 0.5 0.5 0 0.2", 422, "zero size"),
        (other, "0 1.5 0.5 0.1 0.1", 422, "between 0 and 1"),
        (other, "wrench", 422, "5 values"),
        (b"not an image at all", "", 422, "not an image"),
        (other[: len(other) // 2], "", 422, "damaged"),
        (gif.getvalue(), "", 415, "GIF"),
    ]:
        resp = add(registry, "bench", payload, labels)
        assert resp.status_code == status, (labels, resp.text)
        assert words in resp.json()["detail"], resp.json()["detail"]
    assert add(registry, "nope", other).status_code == 404
    assert add(registry, "bench", other, source="camera").status_code == 422
    assert bucket_keys(registry) == keys
    assert registry.get("/v1/datasets/bench/items").json()["total"] == 1

    create(registry, "seals", "classify", ["ok", "nok"])
    assert add(registry, "seals", other, "0 0.5 0.5 0.2 0.2").status_code == 422
    assert add(registry, "seals", other, "maybe").status_code == 422
    seal = add(registry, "seals", other, "nok")
    assert seal.status_code == 201 and seal.json()["labels"] == {"class_id": 1}

    background = add(registry, "bench", other, "", source="feedback", origin="inspection:42")
    assert background.json()["labels"] == [] and background.json()["labelled"] is False
    listed = registry.get("/v1/datasets/bench/items", params={"labelled": "false"}).json()
    assert [i["id"] for i in listed["items"]] == [background.json()["id"]]
    # The first add's source stays: a second add only replaces the labels.
    feedback = registry.get("/v1/datasets/bench/items", params={"source": "feedback"}).json()
    assert [i["id"] for i in feedback["items"]] == [background.json()["id"]]
    by_split = registry.get("/v1/datasets/bench/items", params={"split": split_for(sha)}).json()
    assert item["id"] in [i["id"] for i in by_split["items"]]
    assert registry.get("/v1/datasets/bench/items", params={"limit": 1, "offset": 1}).json()["total"] == 2

    url = f"/v1/datasets/bench/items/{item['id']}"
    box = {"class_id": 2, "cx": 0.4, "cy": 0.4, "w": 0.3, "h": 0.3}
    relabelled = registry.put(f"{url}/labels", json={"labels": [box]})
    assert relabelled.status_code == 200 and relabelled.json()["labels"] == [box]
    assert registry.put(f"{url}/labels", json={"labels": [{**box, "class_id": 7}]}).status_code == 422
    assert registry.put(f"{url}/labels", json={"labels": [{**box, "cx": 0.9}]}).status_code == 422
    assert registry.put(f"{url}/labels", json={"labels": {"class_id": 0}}).status_code == 422
    assert registry.get(url).json()["labels"] == [box]
    assert registry.delete(url).status_code == 204
    assert registry.get(url).status_code == 404
    assert registry.get("/v1/datasets/bench/items/00000000-0000-0000-0000-000000000000").status_code == 404


def test_imports_are_checked_whole_and_stats_count_them(registry, tmp_path):
    create(registry)
    write_detect_dataset(tmp_path / "yolo", n_train=8, n_val=4, seed=3)
    archive = zip_folder(tmp_path / "yolo")
    report = import_zip(registry, "bench", archive)
    assert report.status_code == 200, report.text
    assert report.json()["added"] == 12 and report.json()["images"] == 12
    assert import_zip(registry, "bench", archive).json() | {"warnings": []} == {
        "dataset": "bench",
        "format": "yolo",
        "images": 12,
        "added": 0,
        "replaced": 0,
        "skipped": 12,
        "warnings": [],
    }
    label = tmp_path / "yolo" / "labels" / "train" / "train_0000.txt"
    label.write_text("2 0.5 0.5 0.25 0.25\n")
    assert import_zip(registry, "bench", zip_folder(tmp_path / "yolo")).json()["replaced"] == 1

    keys = bucket_keys(registry)
    fresh, _ = photo(50)
    bad = io.BytesIO()
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("data.yaml", "names: [wrench, hammer]\n")
        zf.writestr("images/train/new.jpg", fresh)
        zf.writestr("labels/train/new.txt", "0 0.5 0.5 0.1 0.1\n")
        zf.writestr("../../etc/cron.d/evil.jpg", fresh)
        zf.writestr("images/train/broken.jpg", fresh[:200])
        zf.writestr("labels/train/orphan.txt", "0 0.5 0.5 0.1 0.1\n")
    refused = import_zip(registry, "bench", bad.getvalue())
    assert refused.status_code == 422
    problem = refused.json()
    assert problem["error_count"] == len(problem["errors"]) == 4
    text = "\n".join(problem["errors"])
    for words in ("'hammer' (id 1) is not a class", "path traversal", "broken.jpg", "orphan.txt"):
        assert words in text
    assert import_zip(registry, "bench", b"no zip").status_code == 422
    assert bucket_keys(registry) == keys
    assert registry.get("/v1/datasets/bench").json()["item_count"] == 12

    tasks = [
        {
            "id": 7,
            "data": {"image": "/data/upload/1/0badcafe-fresh.jpg"},
            "annotations": [
                {
                    "result": [
                        {
                            "type": "rectanglelabels",
                            "value": {
                                "x": 10,
                                "y": 10,
                                "width": 20,
                                "height": 30,
                                "rectanglelabels": ["tape"],
                            },
                        }
                    ]
                }
            ],
        }
    ]
    ls = io.BytesIO()
    with zipfile.ZipFile(ls, "w") as zf:
        zf.writestr("export.json", json.dumps(tasks))
        zf.writestr("fresh.jpg", fresh)
    imported = import_zip(registry, "bench", ls.getvalue(), "labelstudio")
    assert imported.status_code == 200, imported.text
    assert imported.json()["added"] == 1
    item = registry.get("/v1/datasets/bench/items", params={"source": "import", "limit": 500}).json()["items"]
    assert {"class_id": 2, "cx": 0.2, "cy": 0.25, "w": 0.2, "h": 0.3} in [
        b for i in item for b in i["labels"]
    ]

    stats = registry.get("/v1/datasets/bench/stats").json()
    items = registry.get("/v1/datasets/bench/items", params={"limit": 500}).json()["items"]
    assert stats["items"] == 13 == sum(stats["images_per_split"].values())
    for split in ("train", "val", "test"):
        assert stats["images_per_split"][split] == sum(i["split"] == split for i in items)
    for class_id, name in enumerate(CLASSES):
        assert stats["instances_per_class"][name] == sum(
            b["class_id"] == class_id for i in items for b in i["labels"]
        )
    assert stats["images_without_labels"] == sum(not i["labels"] for i in items)
    assert stats["images_per_source"] == {"upload": 0, "feedback": 0, "import": 13}


def test_versions_are_immutable_snapshots_with_diffs_and_a_yolo_export(registry, tmp_path, ultralytics_data):
    create(registry)
    empty = registry.post("/v1/datasets/bench/versions", json={})
    assert empty.status_code == 422 and "no items" in empty.json()["detail"]
    added = [add(registry, "bench", *photo(seed)).json() for seed in range(100, 112)]

    v1 = registry.post(
        "/v1/datasets/bench/versions", json={"notes": "first"}, headers={"X-LineSight-Actor": "anna"}
    )
    assert v1.status_code == 201, v1.text
    v1 = v1.json()
    assert v1["version"] == 1 and v1["item_count"] == 12 and v1["created_by"] == "anna"
    assert v1["diff"] == {"against": None, "added": 12, "removed": 0, "relabelled": 0}
    assert sum(v1["split_counts"].values()) == 12
    same = registry.post("/v1/datasets/bench/versions", json={})
    assert same.status_code == 409 and "since version 1" in same.json()["detail"]

    manifest_v1 = registry.get("/v1/datasets/bench/versions/1/manifest")
    assert hashlib.sha256(manifest_v1.content).hexdigest() == v1["manifest_sha256"]
    body = manifest_v1.json()
    assert sorted(i["sha256"] for i in body["items"]) == sorted(i["sha256"] for i in added)
    stored = {
        i["sha256"]: registry.store.get_bytes(v1["manifest_bucket"], i["image_key"]) for i in body["items"]
    }
    assert all(hashlib.sha256(data).hexdigest() == sha for sha, data in stored.items())

    registry.delete(f"/v1/datasets/bench/items/{added[0]['id']}")
    registry.put(f"/v1/datasets/bench/items/{added[1]['id']}/labels", json={"labels": []})
    new = add(registry, "bench", *photo(200)).json()
    v2 = registry.post("/v1/datasets/bench/versions", json={}).json()
    assert v2["diff"] == {"against": 1, "added": 1, "removed": 1, "relabelled": 1}
    diff = registry.get("/v1/datasets/bench/versions/2/diff").json()
    assert (diff["added"], diff["removed"], diff["relabelled"]) == (
        [new["sha256"]],
        [added[0]["sha256"]],
        [added[1]["sha256"]],
    )
    back = registry.get("/v1/datasets/bench/versions/1/diff", params={"against": 2}).json()
    assert (back["added"], back["removed"]) == ([added[0]["sha256"]], [new["sha256"]])
    assert registry.get("/v1/datasets/bench/versions/2/diff", params={"against": 9}).status_code == 404

    # Version 1 is what it was: same manifest bytes, same counts.
    assert registry.get("/v1/datasets/bench/versions/1/manifest").content == manifest_v1.content
    assert registry.get("/v1/datasets/bench/versions/1").json() == v1
    by_id = registry.get(f"/v1/dataset-versions/{v2['id']}")
    assert by_id.status_code == 200 and by_id.json()["version"] == 2 and by_id.json()["dataset"] == "bench"
    assert registry.get("/v1/dataset-versions/00000000-0000-0000-0000-000000000000").status_code == 404
    listed = registry.get("/v1/datasets/bench/versions").json()
    assert [v["version"] for v in listed["items"]] == [2, 1]
    assert registry.get("/v1/datasets/bench").json()["latest_version"] == 2

    export = registry.get("/v1/datasets/bench/versions/2/export")
    assert export.status_code == 200
    assert export.headers["content-type"] == "application/zip"
    root = tmp_path / "export"
    with zipfile.ZipFile(io.BytesIO(export.content)) as zf:
        zf.extractall(root)
    data = ultralytics_data.check_det_dataset(str(root / "data.yaml"), autodownload=False)
    assert data["names"] == dict(enumerate(CLASSES)) and data["nc"] == 3
    manifest = json.loads((root / "manifest.json").read_text())
    assert (root / "manifest.json").read_bytes() == registry.get(
        "/v1/datasets/bench/versions/2/manifest"
    ).content
    images = sorted(p for p in (root / "images").rglob("*.jpg"))
    assert len(images) == 12 == len(manifest["items"])
    for image in images:
        label = root / "labels" / image.parent.name / f"{image.stem}.txt"
        result = ultralytics_data.verify_image_label((str(image), str(label), "", False, 3, 0, 0, False))
        nm, nf, _empty, nc, msg = result[5:10]
        assert (nm, nf, nc) == (0, 1, 0), msg
        assert hashlib.sha256(image.read_bytes()).hexdigest() == image.stem
    item = next(i for i in manifest["items"] if i["labels"])
    folder = "val" if item["split"] == "test" and not v2["split_counts"]["val"] else item["split"]
    written = (root / "labels" / folder / f"{item['sha256']}.txt").read_text().splitlines()
    assert len(written) == len(item["labels"])


def test_classify_export_passes_the_classify_check_and_fills_an_empty_val(
    registry, tmp_path, ultralytics_data
):
    create(registry, "seals", "classify", ["ok", "nok"])
    # A tiny dataset whose hash rule gives no val images: the export uses the test images as val.
    picked: dict[str, list[bytes]] = {"train": [], "test": []}
    seed = 0
    while len(picked["train"]) < 4 or len(picked["test"]) < 2:
        data, _ = photo(seed, size=(64, 48))
        split = split_for(hashlib.sha256(data).hexdigest())
        if split in picked and len(picked[split]) < (4 if split == "train" else 2):
            picked[split].append(data)
        seed += 1
    for i, data in enumerate(picked["train"] + picked["test"]):
        assert add(registry, "seals", data, ["ok", "nok"][i % 2]).status_code == 201
    unlabelled = next(
        d
        for d in (photo(s, size=(64, 48))[0] for s in range(10_000, 10_100))
        if split_for(hashlib.sha256(d).hexdigest()) == "train"
    )
    assert add(registry, "seals", unlabelled).json()["labelled"] is False
    version = registry.post("/v1/datasets/seals/versions", json={}).json()
    assert version["split_counts"]["val"] == 0 and version["unlabelled"] == 1
    assert version["class_counts"] == {"ok": 3, "nok": 3}

    export = registry.get("/v1/datasets/seals/versions/1/export")
    root = tmp_path / "seals"
    with zipfile.ZipFile(io.BytesIO(export.content)) as zf:
        zf.extractall(root)
    data = ultralytics_data.check_cls_dataset(str(root))
    assert data["nc"] == 2 and sorted(data["names"].values()) == ["nok", "ok"]
    assert len(list((root / "train").rglob("*.jpg"))) == 4
    assert len(list((root / "val").rglob("*.jpg"))) == 2
    assert not (root / "test").exists()


def test_limits_answer_413_and_concurrent_adds_of_one_photo_make_one_item(fresh_service_env, monkeypatch):
    for key, value in fresh_service_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("LINESIGHT_SERVICE_TOKEN", TOKEN)
    monkeypatch.setenv("LINESIGHT_MAX_ARCHIVE_BYTES", "4000")
    monkeypatch.setenv("LINESIGHT_IMAGE_MAX_BYTES", "12000")
    with TestClient(create_app(RegistrySettings())) as client:
        client.headers.update(AUTH)
        create(client)
        big, _ = photo(1, size=(640, 480))
        assert len(big) > 12000
        too_big = add(client, "bench", big)
        assert too_big.status_code == 413 and "12000 bytes" in too_big.json()["detail"]
        archive = import_zip(client, "bench", b"PK" + b"\0" * 5000)
        assert archive.status_code == 413 and "4000 bytes" in archive.json()["detail"]

        small, _ = photo(2)
        with ThreadPoolExecutor(4) as pool:
            codes = sorted(pool.map(lambda _: add(client, "bench", small).status_code, range(4)))
        assert codes == [200, 200, 200, 201]
        assert client.get("/v1/datasets/bench").json()["item_count"] == 1


def test_hostile_import_archives_are_refused_with_the_limit_they_pass(fresh_service_env, monkeypatch):
    for key, value in fresh_service_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("LINESIGHT_SERVICE_TOKEN", TOKEN)
    monkeypatch.setenv("LINESIGHT_MAX_ARCHIVE_MEMBERS", "1000")
    monkeypatch.setenv("LINESIGHT_MAX_LABELSTUDIO_JSON_BYTES", "100000")
    with TestClient(create_app(RegistrySettings())) as client:
        client.headers.update(AUTH)
        create(client)

        # 200 000 empty entries in 11 MB: refused after 1001 headers, the rest never listed
        many = import_zip(client, "bench", many_entry_zip(200_000))
        assert many.status_code == 422, many.text
        assert "more than 1000 entries" in many.json()["detail"]

        photo_bytes, _ = photo(60)
        for export, needle in (
            ("[" * 50_000 + "]" * 50_000, "nested deeper than 64 levels"),
            (json.dumps([{"id": i, "data": {"image": "a.jpg"}} for i in range(3000)]), "100000 bytes"),
        ):
            ls = io.BytesIO()
            with zipfile.ZipFile(ls, "w", zipfile.ZIP_DEFLATED) as zf:
                zf.writestr("export.json", export)
                zf.writestr("a.jpg", photo_bytes)
            refused = import_zip(client, "bench", ls.getvalue(), "labelstudio")
            assert refused.status_code == 422, refused.text
            assert refused.headers["content-type"].startswith("application/problem+json")
            assert needle in refused.json()["detail"], refused.json()
        assert client.get("/v1/datasets/bench").json()["item_count"] == 0
