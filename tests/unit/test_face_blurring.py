"""Faces are blurred before a photo is stored, also faces in profile and three-quarter view, which the
Haar frontal cascade the gateway used before let through (Zidane in zidane.jpg)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from linesight_gateway.domain.privacy import blur_faces
from tests.support.face_photos import PHOTOS, Box, FacePhoto


def sharpness(rgb: np.ndarray, box: Box) -> float:
    """The variance of the Laplacian in a box: edges (eyes, mouth, hair) make it high, blur makes it low."""
    x1, y1, x2, y2 = box
    gray = cv2.cvtColor(np.ascontiguousarray(rgb[y1:y2, x1:x2]), cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def assert_faces_blurred(photo: FacePhoto, before: np.ndarray, after: np.ndarray) -> None:
    for box in photo.faces:
        sharp, blurred = sharpness(before, box), sharpness(after, box)
        # a face that is still recognisable keeps most of its edges; these keep under 1/20 of them
        assert blurred < sharp / 20, (
            f"{photo.name}: the face at {box} is not blurred ({sharp:.0f} -> {blurred:.0f})"
        )
    for x1, y1, x2, y2 in photo.empty:
        assert np.array_equal(before[y1:y2, x1:x2], after[y1:y2, x1:x2]), (
            f"{photo.name}: a place without faces changed"
        )


@pytest.mark.parametrize("photo", PHOTOS, ids=lambda p: p.name)
def test_every_recognisable_face_of_a_real_photo_is_blurred(photo):
    image = Image.open(photo.path).convert("RGB")
    blurred, faces = blur_faces(image)
    assert faces == len(photo.faces)
    assert blurred.size == image.size
    assert_faces_blurred(photo, np.asarray(image), np.asarray(blurred))


def test_a_camera_sized_photo_is_searched_reduced_and_blurred_in_full():
    # 12 MP, as a station camera sends them: faces are found on a reduced copy, the full photo is blurred
    photo = PHOTOS[0]
    small = Image.open(photo.path).convert("RGB")
    scale = 3.0
    image = small.resize((round(small.width * scale), round(small.height * scale)), Image.Resampling.BICUBIC)
    blurred, faces = blur_faces(image)
    assert faces == len(photo.faces)
    assert blurred.size == image.size
    # upscaled faces have soft edges: judge them at the size they were taken, where the detail is
    back = blurred.resize(small.size, Image.Resampling.BOX)
    assert_faces_blurred(photo, np.asarray(image.resize(small.size, Image.Resampling.BOX)), np.asarray(back))
    for empty in photo.empty:  # and untouched at full size
        x1, y1, x2, y2 = (round(v * scale) for v in empty)
        assert np.array_equal(np.asarray(image)[y1:y2, x1:x2], np.asarray(blurred)[y1:y2, x1:x2])


def test_a_scene_without_people_is_left_as_it_is():
    rng = np.random.default_rng(0)
    bench = Image.fromarray(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8))
    plain = Image.new("RGB", (320, 240), (150, 110, 70))
    assert blur_faces(plain) == (plain, 0)
    assert blur_faces(bench) == (bench, 0)
