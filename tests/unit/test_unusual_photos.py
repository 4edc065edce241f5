"""The unusual-photo check on a tool-bench station (domain/unusual.py): dark, blurred, shifted photos and
a photo of a street are flagged with the right reason; the station's normal photos are not. Scene seeds
are the held-out ones (tests/support/unusual_photos.py), not those the thresholds were set on."""

import io

import numpy as np
import pytest
from PIL import Image

from linesight_core.images import dct_reduction, decode_image
from linesight_gateway.domain.photo_stats import photo_stats, stats_fit, view
from linesight_gateway.domain.unusual import BASELINE_SIZE, reasons, signals
from tests.support import unusual_photos as photos

STATION = photos.HELD_OUT_STATIONS[0]


@pytest.fixture(scope="module")
def station():
    """The station's reference view and the baseline its first 100 normal photos built, flagged ones
    left out as the gateway does; and how many of those normal photos were flagged."""
    ref = view(photos.reference(STATION))
    history: list[dict[str, float]] = []
    flagged = []
    for n in range(100):
        stats = photo_stats(photos.normal(STATION, n), ref)
        found = reasons(stats, [0.9, 0.85, 0.88], history=history[-BASELINE_SIZE:])
        if found:
            flagged.append((n, found))
        else:
            history.append(signals(stats, [0.9, 0.85, 0.88]))
    return ref, history[-BASELINE_SIZE:], flagged


def check(station, img, tops=(0.9, 0.85, 0.88), **kw) -> list[str]:
    ref, history, _ = station
    return reasons(photo_stats(img, ref), list(tops), history=history, **kw)


def test_normal_photos_are_not_flagged(station):
    _, _, flagged = station
    assert len(flagged) <= 2, flagged  # ≤ 2 % of 100
    assert check(station, photos.normal(STATION, 500)) == []


def test_a_dark_photo_is_too_dark(station):
    assert "too_dark" in check(station, photos.dark(STATION, 1000))


def test_a_blurred_photo_is_blurred(station):
    assert "blurred" in check(station, photos.blurred(STATION, 1000))


def test_a_shifted_view_means_the_camera_moved(station):
    assert "camera_moved" in check(station, photos.shifted(STATION, 1000))


def test_a_street_at_a_tool_bench_is_unlike_its_photos(station):
    found = check(station, photos.elsewhere())
    assert "camera_moved" in found and "unlike_recent_photos" in found, found
    # Without a reference photo the station's recent photos still tell a street from its bench.
    _, history, _ = station
    assert "unlike_recent_photos" in reasons(photo_stats(photos.elsewhere()), [0.9], history=history)


def test_fixed_bounds_apply_before_a_station_has_history():
    assert "too_dark" in reasons(photo_stats(photos.dark(STATION, 1)), [])
    assert "blurred" in reasons(photo_stats(photos.blurred(STATION, 1)), [])
    assert reasons(photo_stats(photos.normal(STATION, 1)), [0.9]) == []


def test_the_model_unsure_or_seeing_far_too_much_is_flagged(station):
    assert "low_model_confidence" in check(station, photos.normal(STATION, 501), tops=(0.4, 0.35, 0.3))
    assert "unexpected_detection_count" in check(
        station, photos.normal(STATION, 502), expected_count=3, detections=12
    )
    # A missing item is the station's normal NOK, not an unusual photo.
    assert check(station, photos.normal(STATION, 503), tops=(0.9, 0.88), expected_count=3, detections=2) == []


def completed(img, *, needs_review: bool):
    """An inspection at a three-tool station completed with a sure OK from the model."""
    from linesight_gateway.db.models import Inspection, Station
    from linesight_gateway.domain.inspections import complete
    from tests.unit.test_verdict import det, prediction

    station = Station(
        name="bench-1",
        mode="detect",
        model_name="m",
        expected_items=[{"label": label, "min_count": 1} for label in ("wrench", "screwdriver", "tape")],
        ok_classes=[],
        success_threshold=0.7,
        low_confidence_threshold=0.5,
        unusual_needs_review=needs_review,
    )
    inspection = Inspection(model_name="m", photo_stats=photo_stats(img))
    sure = prediction([det("wrench", 0.95), det("screwdriver", 0.93, 1), det("tape", 0.9, 2)])
    complete(inspection, station, sure, {})
    return inspection


def test_the_station_decides_whether_an_unusual_photo_needs_review():
    dark = photos.dark(STATION, 7)
    plain = completed(dark, needs_review=False)
    assert (plain.verdict, plain.confidence_status, plain.unusual) == ("OK", "success", ["too_dark"])
    reviewed = completed(dark, needs_review=True)
    assert (reviewed.verdict, reviewed.confidence_status) == ("OK", "low_confidence")
    assert completed(photos.normal(STATION, 7), needs_review=True).confidence_status == "success"
    assert "signals" in reviewed.photo_stats  # kept for the station's baseline


def camera_jpeg(img, size=(4032, 3024), orientation: int = 1) -> bytes:
    """The photo as a 12 MP camera would send it: upscaled, with sensor grain, as a JPEG."""
    big = np.asarray(img.convert("RGB").resize(size, Image.Resampling.BICUBIC), np.float32)
    grain = np.random.default_rng(7).normal(0, 4, big.shape)
    buf = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(np.clip(big + grain, 0, 255).astype(np.uint8)).save(
        buf, "JPEG", quality=90, exif=exif.tobytes()
    )
    return buf.getvalue()


@pytest.mark.parametrize("kind", ["normal", "dark", "blurred", "shifted"])
def test_a_large_jpeg_decoded_reduced_gets_the_statistics_of_its_full_decode(station, kind):
    """The gateway decodes a 12 MP JPEG at 1/4 (DCT domain) for the statistics: the numbers and the
    reasons are those a full decode gives."""
    ref, history, _ = station
    data = camera_jpeg(getattr(photos, kind)(STATION, 3))
    limits = {"max_bytes": 50_000_000, "max_pixels": 50_000_000}
    full = decode_image(data, **limits)
    reduced = decode_image(data, **limits, fit=stats_fit)
    assert reduced.reduction == 4 and reduced.image.size == (1008, 756)
    assert (reduced.width, reduced.height) == (4032, 3024)
    a = photo_stats(full.image, ref)
    b = photo_stats(reduced.image, ref, size=(reduced.width, reduced.height))
    assert abs(a["brightness"] - b["brightness"]) < 1
    assert b["contrast"] == pytest.approx(a["contrast"], rel=0.05)
    assert b["sharpness"] == pytest.approx(a["sharpness"], rel=0.15)
    for share in ("red_share", "green_share"):
        assert abs(a[share] - b[share]) < 0.002
    assert abs(a["reference_similarity"] - b["reference_similarity"]) < 0.02
    assert a["aspect"] == b["aspect"]
    tops = [0.9, 0.85, 0.88]
    assert reasons(b, tops, history=history) == reasons(a, tops, history=history)


def test_stats_fit_keeps_the_copy_at_least_640_wide():
    assert dct_reduction(4032, 3024, stats_fit(4032, 3024)) == 4
    assert dct_reduction(2560, 1920, stats_fit(2560, 1920)) == 4
    assert dct_reduction(1280, 960, stats_fit(1280, 960)) == 2
    assert dct_reduction(640, 480, stats_fit(640, 480)) == 1
    assert dct_reduction(320, 240, stats_fit(320, 240)) == 1
    # A very wide photo keeps enough rows for the 160 x 120 reference view.
    assert dct_reduction(4000, 500, stats_fit(4000, 500)) == 2
    # Held upright (EXIF orientation 6), a 4032 x 3024 sensor photo is 3024 wide: still at 1/4.
    turned = decode_image(
        camera_jpeg(photos.normal(STATION, 1), orientation=6),
        max_bytes=50_000_000,
        max_pixels=50_000_000,
        fit=stats_fit,
    )
    assert turned.reduction == 4 and (turned.width, turned.height) == (3024, 4032)
    assert turned.image.size == (756, 1008)
