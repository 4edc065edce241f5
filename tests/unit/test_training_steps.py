"""How often the worker's training steps: a small dataset steps every batch (Ultralytics' default waits
for 64 photos, two or three steps an epoch on a few hundred photos, too few to train from scratch),
a large one keeps the default."""

from __future__ import annotations

from pathlib import Path

from linesight_training.trainer import SMALL_DATASET_IMAGES, nominal_batch, train_images


def test_a_small_dataset_steps_every_batch() -> None:
    assert nominal_batch(16, 146) == 16
    assert nominal_batch(8, SMALL_DATASET_IMAGES - 1) == 8


def test_a_large_dataset_keeps_ultralytics_step() -> None:
    assert nominal_batch(16, SMALL_DATASET_IMAGES) == 64
    assert nominal_batch(128, 50_000) == 128


def _photos(folder: Path, n: int) -> None:
    folder.mkdir(parents=True)
    for i in range(n):
        (folder / f"{i}.jpg").write_bytes(b"\xff\xd8")
    (folder / "notes.txt").write_text("not a photo")


def test_training_photos_are_counted_from_the_data_yaml(tmp_path: Path) -> None:
    _photos(tmp_path / "images" / "train", 5)
    _photos(tmp_path / "images" / "val", 2)
    data = tmp_path / "data.yaml"
    data.write_text("path: .\ntrain: images/train\nval: images/val\nnames: {0: crack}\n")
    assert train_images("segment", data) == 5


def test_training_photos_of_a_classify_dataset(tmp_path: Path) -> None:
    _photos(tmp_path / "train" / "ok", 3)
    _photos(tmp_path / "train" / "nok", 4)
    assert train_images("classify", tmp_path) == 7
    assert train_images("classify", tmp_path / "missing") == 0
