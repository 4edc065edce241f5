"""Dataset archives: YOLO zips and Label Studio exports become items with labels, and every kind of bad
archive is refused whole with a list of what is wrong."""

import dataclasses
import io
import json
import random
import struct
import tracemalloc
import zipfile

import pytest

from linesight_core.errors import Problem
from linesight_registry.domain.archives import read_yolo
from linesight_registry.domain.labels import labels_from_text, split_for
from linesight_registry.domain.labelstudio import read_labelstudio
from linesight_registry.domain.safe_zip import ArchiveLimits, ArchiveRejected
from tests.support.synthetic import CLASSES, draw_scene, yolo_label_lines
from tests.support.zip_attacks import many_entry_zip

LIMITS = ArchiveLimits(
    max_members=100,
    max_total_bytes=20 * 1024 * 1024,
    image_max_bytes=2 * 1024 * 1024,
    image_max_pixels=4_000_000,
)


def photo(seed: int, size=(96, 72)) -> tuple[bytes, list[str]]:
    img, placed = draw_scene(random.Random(seed), size=size)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=85)
    return buf.getvalue(), yolo_label_lines(placed, img.size)


def make_zip(path, members: dict, *, links: tuple[str, ...] = ()) -> str:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if name in links:
                info.external_attr = 0o120777 << 16
            zf.writestr(info, data)
    return str(path)


def data_yaml(names=CLASSES) -> str:
    return "path: .\ntrain: images/train\nval: images/val\nnames:\n" + "".join(
        f"  {i}: {n}\n" for i, n in enumerate(names)
    )


def refused(fn, *args, **kw) -> list[str]:
    with pytest.raises(ArchiveRejected) as info:
        fn(*args, **kw)
    assert info.value.status == 422
    assert info.value.extra["errors"]
    return info.value.extra["errors"]


def test_yolo_detect_zip_in_both_layouts_maps_classes_by_name(tmp_path):
    a, la = photo(1)
    b, lb = photo(2)
    c, _ = photo(3)
    # The archive numbers the classes differently from the dataset: ids are matched by name.
    archive_names = ["tape", "wrench", "screwdriver"]
    remap = {CLASSES.index(n): i for i, n in enumerate(archive_names)}

    def renumber(lines):
        return "\n".join(f"{remap[int(line.split()[0])]} {line.split(' ', 1)[1]}" for line in lines)

    path = make_zip(
        tmp_path / "a.zip",
        {
            "data.yaml": data_yaml(archive_names),
            "images/train/a.jpg": a,
            "labels/train/a.txt": renumber(la),
            "valid/images/b.jpg": b,
            "valid/labels/b.txt": renumber(lb),
            "images/val/c.jpg": c,  # no label file: a background image
            "README.md": "hello",
        },
    )
    parsed = read_yolo(path, "detect", CLASSES, LIMITS)
    got = {i.member: i for i in parsed.items}
    assert set(got) == {"images/train/a.jpg", "valid/images/b.jpg", "images/val/c.jpg"}
    assert got["images/val/c.jpg"].labels == []
    expected_a = sorted(int(line.split()[0]) for line in la)
    assert sorted(box["class_id"] for box in got["images/train/a.jpg"].labels) == expected_a
    assert got["images/train/a.jpg"].width == 96
    assert any("README.md" in w for w in parsed.warnings)
    assert any("hash" in w for w in parsed.warnings)


def test_yolo_names_may_be_a_subset_in_a_wrapping_folder(tmp_path):
    a, _ = photo(4)
    path = make_zip(
        tmp_path / "a.zip",
        {
            "export/data.yaml": "names: [screwdriver]\n",
            "export/images/train/a.jpg": a,
            "export/labels/train/a.txt": "0 0.5 0.5 0.2 0.4\n",
        },
    )
    (item,) = read_yolo(path, "detect", CLASSES, LIMITS).items
    assert item.labels == [{"class_id": 1, "cx": 0.5, "cy": 0.5, "w": 0.2, "h": 0.4}]


def test_yolo_classify_zip(tmp_path):
    a, _ = photo(5)
    b, _ = photo(6)
    path = make_zip(tmp_path / "c.zip", {"train/ok/a.jpg": a, "val/nok/b.jpg": b})
    parsed = read_yolo(path, "classify", ["ok", "nok"], LIMITS)
    assert sorted((i.member, i.labels["class_id"]) for i in parsed.items) == [
        ("train/ok/a.jpg", 0),
        ("val/nok/b.jpg", 1),
    ]
    errors = refused(
        read_yolo, make_zip(tmp_path / "d.zip", {"train/maybe/a.jpg": a}), "classify", ["ok"], LIMITS
    )
    assert "'maybe' is not a class" in errors[0]


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("../escape.jpg", "path traversal"),
        ("images/../../escape.jpg", "path traversal"),
        ("/etc/escape.jpg", "absolute"),
        ("C:/escape.jpg", "absolute"),
    ],
)
def test_unsafe_member_names_are_refused(tmp_path, name, why):
    a, _ = photo(7)
    path = make_zip(tmp_path / "x.zip", {"data.yaml": data_yaml(), "images/train/a.jpg": a, name: a})
    errors = refused(read_yolo, path, "detect", CLASSES, LIMITS)
    assert any(why in e and name in e for e in errors)


def test_symlinks_are_refused(tmp_path):
    a, _ = photo(8)
    path = make_zip(
        tmp_path / "x.zip",
        {"data.yaml": data_yaml(), "images/train/a.jpg": a, "images/train/b.jpg": "/etc/passwd"},
        links=("images/train/b.jpg",),
    )
    errors = refused(read_yolo, path, "detect", CLASSES, LIMITS)
    assert any("symbolic link" in e for e in errors)


def test_too_many_members_and_too_large_are_refused_before_reading(tmp_path):
    many = make_zip(tmp_path / "many.zip", {f"images/train/{i}.txt": "x" for i in range(101)})
    assert "more than 100 entries" in refused(read_yolo, many, "detect", CLASSES, LIMITS)[0]
    big = make_zip(
        tmp_path / "big.zip", {"data.yaml": data_yaml(), "images/train/a.jpg": b"\0" * (21 * 1024 * 1024)}
    )
    assert "unpacks to" in refused(read_yolo, big, "detect", CLASSES, LIMITS)[0]


def test_a_zip_of_many_tiny_entries_is_refused_at_the_limit_without_listing_them(tmp_path):
    path = tmp_path / "many.zip"
    path.write_bytes(many_entry_zip(100_000))
    tracemalloc.start()
    try:
        errors = refused(read_yolo, str(path), "detect", CLASSES, LIMITS)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "more than 100 entries" in errors[0] and "the limit is 100" in errors[0]
    # zipfile lists these 100 000 entries in about 50 MB; the walk stops after 101 headers
    assert peak < 2_000_000, peak
    with zipfile.ZipFile(path) as zf:  # the archive is a real zip, not a broken one
        assert zf.namelist()[:3] == ["0", "1", "2"]


def test_a_zip_bomb_with_lying_sizes_is_stopped_while_reading(tmp_path):
    path = tmp_path / "bomb.zip"
    make_zip(path, {"data.yaml": data_yaml(), "images/train/a.jpg": b"\0" * (8 * 1024 * 1024)})
    raw = bytearray(path.read_bytes())
    # Claim 1000 bytes unpacked in the local and the central header of the image.
    for signature, size_at, name_len_at, name_at in (
        (b"PK\x03\x04", 22, 26, 30),
        (b"PK\x01\x02", 24, 28, 46),
    ):
        pos = raw.find(signature)
        while pos != -1:
            name_len = struct.unpack_from("<H", raw, pos + name_len_at)[0]
            if raw[pos + name_at : pos + name_at + name_len] == b"images/train/a.jpg":
                struct.pack_into("<I", raw, pos + size_at, 1000)
            pos = raw.find(signature, pos + 4)
    path.write_bytes(bytes(raw))
    with zipfile.ZipFile(path) as zf:
        assert zf.getinfo("images/train/a.jpg").file_size == 1000  # the lie the reader must not trust
    errors = refused(read_yolo, str(path), "detect", CLASSES, LIMITS)
    assert any("images/train/a.jpg" in e for e in errors)


def test_not_a_zip(tmp_path):
    path = tmp_path / "x.zip"
    path.write_bytes(b"this is not a zip archive at all")
    assert "not a readable zip" in refused(read_yolo, str(path), "detect", CLASSES, LIMITS)[0]


def test_every_content_problem_is_listed(tmp_path):
    a, la = photo(9)
    b, _ = photo(10)
    path = make_zip(
        tmp_path / "bad.zip",
        {
            "data.yaml": data_yaml([*CLASSES, "hammer"]),
            "images/train/a.jpg": a,
            "labels/train/a.txt": "\n".join(
                [*la, "7 0.5 0.5 0.1 0.1", "0 0.95 0.5 0.2 0.2", "1 0.5 0.5 0 0.1"]
            ),
            "images/train/broken.jpg": b[: len(b) // 3],
            "images/train/notes.jpg": b"plain text pretending to be a photo",
            "labels/train/ghost.txt": "0 0.5 0.5 0.1 0.1",
            "images/train/b.jpg": b,
        },
    )
    errors = refused(read_yolo, path, "detect", CLASSES, LIMITS)
    text = "\n".join(errors)
    assert "'hammer' (id 3) is not a class" in text
    assert "class id 7 is not in the archive's names" in text
    assert "outside the image" in text
    assert "zero size" in text
    assert "images/train/broken.jpg" in text
    assert "images/train/notes.jpg" in text
    assert "labels/train/ghost.txt: a label file without an image" in text
    assert len(errors) >= 7


def test_missing_data_yaml(tmp_path):
    a, _ = photo(11)
    path = make_zip(tmp_path / "x.zip", {"images/train/a.jpg": a, "labels/train/a.txt": ""})
    assert "No data.yaml" in refused(read_yolo, path, "detect", CLASSES, LIMITS)[0]


def ls_task(task_id, image, results, **annotation):
    return {"id": task_id, "data": {"image": image}, "annotations": [{"result": results, **annotation}]}


def rect(label, x, y, w, h, **extra):
    return {
        "type": "rectanglelabels",
        "value": {"x": x, "y": y, "width": w, "height": h, "rectanglelabels": [label], **extra},
    }


def test_label_studio_export_becomes_normalised_boxes(tmp_path):
    a, _ = photo(12)
    b, _ = photo(13)
    c, _ = photo(14)
    tasks = [
        ls_task(1, "/data/upload/3/1f2e3d4c-bench_a.jpg", [rect("wrench", 10, 20, 30, 40)]),
        ls_task(2, "s3://bucket/bench_b.jpg", [rect("tape", 0, 0, 10, 10)], was_cancelled=True),
        {"id": 3, "data": {"image": "bench_c.jpg"}, "annotations": []},
    ]
    path = make_zip(
        tmp_path / "ls.zip",
        {
            "export.json": json.dumps(tasks),
            "images/bench_a.jpg": a,
            "images/bench_b.jpg": b,
            "bench_c.jpg": c,
        },
    )
    parsed = read_labelstudio(path, "detect", CLASSES, LIMITS)
    (item,) = parsed.items
    assert item.member == "images/bench_a.jpg"
    assert item.labels == [{"class_id": 0, "cx": 0.25, "cy": 0.4, "w": 0.3, "h": 0.4}]
    assert parsed.skipped == 2  # the cancelled one and the one without annotations
    assert any("without a finished annotation" in w for w in parsed.warnings)


def test_label_studio_problems_are_listed(tmp_path):
    a, _ = photo(15)
    tasks = [
        ls_task(1, "a.jpg", [rect("hammer", 10, 10, 10, 10)]),
        ls_task(2, "missing.jpg", [rect("tape", 10, 10, 10, 10)]),
        ls_task(3, "a.jpg", [rect("tape", 10, 10, 10, 10, rotation=30)]),
        {"id": 4},
    ]
    path = make_zip(tmp_path / "ls.zip", {"export.json": json.dumps(tasks), "a.jpg": a})
    text = "\n".join(refused(read_labelstudio, path, "detect", CLASSES, LIMITS))
    assert "task 1: class 'hammer' is not a class" in text
    assert "task 2: its image 'missing.jpg' is not in the archive" in text
    assert "task 3: rotated boxes" in text
    assert "task 4: no data.image" in text
    no_json = make_zip(tmp_path / "nojson.zip", {"a.jpg": a})
    assert "exactly one JSON export" in refused(read_labelstudio, no_json, "detect", CLASSES, LIMITS)[0]


def test_label_studio_classify_choices(tmp_path):
    a, _ = photo(16)
    tasks = [ls_task(1, "a.jpg", [{"type": "choices", "value": {"choices": ["nok"]}}])]
    path = make_zip(tmp_path / "ls.zip", {"export.json": json.dumps(tasks), "a.jpg": a})
    (item,) = read_labelstudio(path, "classify", ["ok", "nok"], LIMITS).items
    assert item.labels == {"class_id": 1}


def test_split_comes_from_the_hash():
    assert split_for("00000000" + "0" * 56) == "train"  # 0 % 100
    assert split_for(f"{75:08x}" + "0" * 56) == "val"
    assert split_for(f"{99:08x}" + "0" * 56) == "test"
    counts = {"train": 0, "val": 0, "test": 0}
    for i in range(3000):
        counts[split_for(f"{random.Random(i).getrandbits(256):064x}")] += 1
    assert 0.65 < counts["train"] / 3000 < 0.75
    assert 0.11 < counts["val"] / 3000 < 0.19


def test_upload_labels_are_checked_against_the_task():
    assert labels_from_text("detect", CLASSES, "1 0.5 0.5 0.2 0.2\n\n") == [
        {"class_id": 1, "cx": 0.5, "cy": 0.5, "w": 0.2, "h": 0.2}
    ]
    assert labels_from_text("detect", CLASSES, "") == []
    assert labels_from_text("classify", ["ok", "nok"], "nok") == {"class_id": 1}
    assert labels_from_text("classify", ["ok", "nok"], "") is None
    for task, names, text, message in [
        ("detect", CLASSES, "3 0.5 0.5 0.2 0.2", "class id 3"),
        ("detect", CLASSES, "wrench", "5 values"),
        ("classify", ["ok"], "0 0.5 0.5 0.2 0.2", "not YOLO box lines"),
        ("classify", ["ok"], "maybe", "'maybe' is not a class"),
    ]:
        with pytest.raises(Problem) as info:
            labels_from_text(task, names, text)
        assert info.value.status == 422
        assert message in info.value.detail


def test_common_extras_are_ignored_not_refused(tmp_path):
    a, _ = photo(17)
    path = make_zip(
        tmp_path / "x.zip",
        {
            "data.yaml": data_yaml(),
            "images/train/a.JPG": a,
            "labels/train/a.txt": "0 0.5 0.5 0.2 0.2\n",
            "labels/train/classes.txt": "\n".join(CLASSES),  # labelImg writes this next to the labels
            "labels/train.cache": b"\x00",
            "__MACOSX/images/train/._a.JPG": b"\x00\x01",
        },
    )
    parsed = read_yolo(path, "detect", CLASSES, LIMITS)
    assert [i.member for i in parsed.items] == ["images/train/a.JPG"]
    assert any("classes.txt" in w for w in parsed.warnings)


def test_malformed_label_studio_values_are_problems_not_crashes(tmp_path):
    a, _ = photo(18)
    tasks = [
        ls_task(1, "a.jpg", [{"type": "rectanglelabels", "value": ["not", "a", "dict"]}]),
        ls_task(2, "a.jpg", [rect("tape", "left", 10, 10, 10)]),
        ls_task(3, "a.jpg", [rect("tape", 10, 10, 10, 10, rotation="sideways")]),
        ls_task(4, "a.jpg", [{"type": "rectanglelabels", "value": {"rectanglelabels": ["tape"]}}]),
    ]
    path = make_zip(tmp_path / "ls.zip", {"export.json": json.dumps(tasks), "a.jpg": a})
    errors = refused(read_labelstudio, path, "detect", CLASSES, LIMITS)
    assert [e.split(":")[0] for e in errors] == ["task 1", "task 2", "task 3", "task 4"]
    broken = make_zip(tmp_path / "broken.zip", {"export.json": '[{"id": 1,}]', "a.jpg": a})
    assert "not valid JSON" in refused(read_labelstudio, broken, "detect", CLASSES, LIMITS)[0]
    latin1 = make_zip(tmp_path / "latin1.zip", {"export.json": '[{"id": "Prüfstand"}]'.encode("latin-1")})
    assert (
        "not valid JSON (lexical error: invalid bytes in UTF8 string.)"
        in refused(read_labelstudio, latin1, "detect", CLASSES, LIMITS)[0]
    )
    not_a_list = make_zip(tmp_path / "map.zip", {"export.json": '{"tasks": []}', "a.jpg": a})
    assert "is a list of tasks" in refused(read_labelstudio, not_a_list, "detect", CLASSES, LIMITS)[0]


def test_hostile_label_studio_json_is_refused_without_being_built(tmp_path):
    a, _ = photo(19)
    deep = make_zip(tmp_path / "deep.zip", {"export.json": "[" * 100_000 + "]" * 100_000, "a.jpg": a})
    assert "nested deeper than 64 levels" in refused(read_labelstudio, deep, "detect", CLASSES, LIMITS)[0]
    wide = json.dumps([ls_task(1, "a.jpg", [rect("tape", 1, 1, 1, 1)] * 50_000)])
    path = make_zip(tmp_path / "wide.zip", {"export.json": wide, "a.jpg": a})
    assert "more than 200000 values" in refused(read_labelstudio, path, "detect", CLASSES, LIMITS)[0]
    small = dataclasses.replace(LIMITS, max_json_bytes=100_000)
    big = json.dumps([ls_task(i, "a.jpg", [rect("tape", 1, 1, 1, 1)]) for i in range(2000)])
    path = make_zip(tmp_path / "big.zip", {"export.json": big, "a.jpg": a})
    assert len(big) > 100_000
    assert (
        "limit for this kind of file is 100000 bytes"
        in refused(read_labelstudio, path, "detect", CLASSES, small)[0]
    )


def test_a_large_label_studio_export_is_read_one_task_at_a_time(tmp_path):
    a, _ = photo(20)
    # 6000 tasks naming one image (1.1 MB): parsed whole (json.loads), they take 9 MB
    tasks = [ls_task(i, "a.jpg", [rect("tape", 10, 10, 20, 20)]) for i in range(6000)]
    export = ("\ufeff" + json.dumps(tasks)).encode()  # with the byte-order mark Windows tools write
    path = make_zip(tmp_path / "ls.zip", {"export.json": export, "a.jpg": a})
    tracemalloc.start()
    try:
        parsed = read_labelstudio(path, "detect", CLASSES, LIMITS)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(parsed.items) == 1 and parsed.images == 1
    assert len(export) > 1_100_000
    assert peak < 2_000_000, peak
