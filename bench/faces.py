"""Face blurring: how many recognisable faces the gateway's detector finds against OpenCV's Haar
frontal cascade (what the gateway used before), on Ultralytics' bundled photos, and what each costs.

Each photo also runs as a 12 MP camera-sized copy (upscaled), where the gateway looks for faces on a
reduced copy and the cascade, as it did, on the full photo. A face counts as found when a detection's
centre falls inside the box drawn around it by eye (tests/support/face_photos.py).

    .venv/bin/python bench/faces.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from linesight_gateway.domain.face_detector import face_detector
from tests.support.face_photos import PHOTOS, Box

Detector = Callable[[np.ndarray], list[Box]]


def cascade() -> Detector:
    """The gateway's detector before CenterFace, with its settings."""
    net = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")

    def detect(rgb: np.ndarray) -> list[Box]:
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        side = max(24, min(gray.shape) // 40)
        found = net.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(side, side))
        return [(int(x), int(y), int(x + w), int(y + h)) for x, y, w, h in found]

    return detect


def centerface() -> Detector:
    detector = face_detector()
    return lambda rgb: [(f.x1, f.y1, f.x2, f.y2) for f in detector.detect(rgb)]


def found(faces: tuple[Box, ...], dets: list[Box]) -> int:
    def inside(face: Box, det: Box) -> bool:
        cx, cy = (det[0] + det[2]) / 2, (det[1] + det[3]) / 2
        return face[0] <= cx <= face[2] and face[1] <= cy <= face[3]

    return sum(any(inside(face, det) for det in dets) for face in faces)


def timed(detect: Detector, rgb: np.ndarray, repeat: int) -> tuple[list[Box], float]:
    dets = detect(rgb)  # warm-up, and the answer
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        detect(rgb)
        times.append((time.perf_counter() - t0) * 1000)
    return dets, statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    detectors = {"cascade": cascade(), "centerface": centerface()}
    print(
        f"{'photo':<22} {'faces':>5} {'cascade':>8} {'new':>5} {'cascade ms':>11} {'new ms':>8} {'ratio':>6}"
    )
    totals = {"expected": 0, "cascade": 0, "centerface": 0}
    for photo in PHOTOS:
        rgb = np.asarray(Image.open(photo.path).convert("RGB"))
        h, w = rgb.shape[:2]
        k = (12e6 / (w * h)) ** 0.5
        camera = cv2.resize(rgb, (round(w * k), round(h * k)), interpolation=cv2.INTER_CUBIC)
        for label, image, scale in ((photo.name, rgb, 1.0), (f"{photo.name} 12 MP", camera, k)):
            faces = tuple(tuple(round(v * scale) for v in face) for face in photo.faces)
            row = {}
            for name, detect in detectors.items():
                dets, ms = timed(detect, image, args.repeat)
                row[name] = (found(faces, dets), len(dets), ms)
                totals[name] += row[name][0]
            totals["expected"] += len(faces)
            (c_found, c_all, c_ms), (n_found, n_all, n_ms) = row["cascade"], row["centerface"]
            print(
                f"{label:<22} {len(faces):>5} {c_found:>3} ({c_all:>2}) {n_found:>1} ({n_all:>1})"
                f" {c_ms:>11.0f} {n_ms:>8.0f} {n_ms / c_ms:>5.2f}x"
            )
        if photo.note:
            print(f"  {photo.name}: {photo.note}")
    print(
        f"recognisable faces blurred: cascade {totals['cascade']}/{totals['expected']}, "
        f"centerface {totals['centerface']}/{totals['expected']}  (in brackets: all detections)"
    )


if __name__ == "__main__":
    main()
