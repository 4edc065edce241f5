"""The demo's defect plates (linesight_devstack.surfaces): every label is a polygon the registry accepts,
it outlines the very pixels that were darkened or brightened, and some plates are clean."""

import io
import random
import zipfile

import numpy as np

from linesight_core.polygons import polygon_problem
from linesight_devstack.demo_segment import crack_plate
from linesight_devstack.surfaces import DEFECT_CLASSES, draw_surface, write_segment_zip


def test_every_defect_is_a_valid_polygon_over_the_pixels_drawn():
    rng = random.Random(3)
    clean = kinds = 0
    seen: set[str] = set()
    for _ in range(40):
        img, defects = draw_surface(rng)
        photo = np.asarray(img.convert("L"), dtype=np.float64)
        if not defects:
            clean += 1
        background = np.ones(photo.shape, bool)
        for d in defects:
            background &= d.mask == 0
        for d in defects:
            seen.add(d.label)
            assert polygon_problem(d.polygon, img.width, img.height) is None
            inside = photo[d.mask > 0].mean()
            # a crack is darker than the plate, a scratch brighter
            if d.label == "crack":
                assert inside < photo[background].mean() - 25
            else:
                assert inside > photo[background].mean() + 25
            assert d.mask.sum() > 30
        kinds += len(defects)
    assert clean >= 4 and kinds >= 40
    assert seen == set(DEFECT_CLASSES)


def test_defects_of_one_plate_never_touch():
    rng = random.Random(5)
    for _ in range(20):
        _, defects = draw_surface(rng, defects=3)
        for i, a in enumerate(defects):
            for b in defects[i + 1 :]:
                assert not (a.mask & b.mask).any()


def test_the_zip_is_a_yolo_segmentation_export(tmp_path):
    path = write_segment_zip(tmp_path / "plates.zip", 12, seed=1)
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        assert "data.yaml" in names
        images = [n for n in names if n.startswith("images/train/")]
        labels = [n for n in names if n.startswith("labels/train/")]
        assert len(images) == len(labels) == 12
        for name in labels:
            for line in zf.read(name).decode().splitlines():
                cls, *coords = line.split()
                assert int(cls) in range(len(DEFECT_CLASSES))
                assert len(coords) >= 6 and len(coords) % 2 == 0
        from PIL import Image

        assert Image.open(io.BytesIO(zf.read(images[0]))).size == (320, 240)


def test_the_demo_inspects_one_crack_longer_than_its_limit():
    _, defects = crack_plate(10_000)
    assert len(defects) == 1 and defects[0].label == "crack"
    assert defects[0].length_px * 0.1 > 5.0
