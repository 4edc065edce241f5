"""What a line manager watches, as the gateway's /metrics shows it after real inspections, feedback and
label reads (real registry, inference, OCR service, Postgres, S3): verdicts and missing items per
station, the model's agreement with the operators, pending inspections and the label review queue
counted from the database in the background, corrected codes by type."""

from __future__ import annotations

import random
import time

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from linesight_gateway.main import create_app as create_gateway
from linesight_gateway.settings import GatewaySettings
from linesight_inference.main import create_app as create_inference
from linesight_inference.settings import InferenceSettings
from linesight_ocr.synthetic import random_spec, render
from linesight_registry.main import create_app as create_registry
from linesight_registry.settings import RegistrySettings
from tests.integration.test_gateway_inspections import ADMIN, env, setup_station  # noqa: F401
from tests.integration.test_gateway_labels import gw, ocr_env, ocr_url, png, send  # noqa: F401
from tests.support.servers import serve
from tests.support.synthetic import draw_scene, jpeg


def samples(client: TestClient) -> dict[tuple[str, frozenset], float]:
    text = client.get("/metrics").text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(snapshot: dict, name: str, **labels: str) -> float:
    return snapshot.get((name, frozenset(labels.items())), 0.0)


def wait_until(client: TestClient, ready) -> dict:
    """The background gauges refresh every LINESIGHT_QUEUE_GAUGES_INTERVAL_SECONDS (0.2 s here)."""
    deadline = time.monotonic() + 10
    while True:
        snap = samples(client)
        if ready(snap) or time.monotonic() > deadline:
            return snap
        time.sleep(0.1)


def wait_for(client: TestClient, name: str, labels: dict[str, str], expected: float) -> dict:
    return wait_until(client, lambda snap: snap.get((name, frozenset(labels.items()))) == expected)


def test_inspections_feedback_and_pending_are_counted_per_station(env):  # noqa: F811
    env.setenv("LINESIGHT_QUEUE_GAUGES_INTERVAL_SECONDS", "0.2")
    with serve(create_registry(RegistrySettings())) as registry_url:
        env.setenv("LINESIGHT_REGISTRY_URL", registry_url)
        with serve(create_inference(InferenceSettings())) as inference_url:
            env.setenv("LINESIGHT_INFERENCE_URL", inference_url)
            with TestClient(create_gateway(GatewaySettings())) as gw:
                sid = setup_station(gw)
                before = samples(gw)
                rng = random.Random(3)
                full, _ = draw_scene(rng, present=[0, 1, 2])
                partial, _ = draw_scene(rng, present=[0, 2])
                answers = []
                for photo in (full, partial, partial):
                    resp = gw.post(
                        "/api/v1/inspections",
                        data={"station_id": sid},
                        files={"image": ("p.jpg", jpeg(photo))},
                        headers=ADMIN,
                    )
                    assert resp.status_code == 201, resp.text
                    answers.append(resp.json())
                assert [a["verdict"] for a in answers] == ["OK", "NOK", "NOK"]
                # the operator says the first NOK was right, the OK was wrong
                for answer, correct in ((answers[1], True), (answers[0], False)):
                    body = {"correct": correct}
                    if not correct:
                        body |= {"corrected_verdict": "NOK", "corrected_counts": {"wrench": 0}}
                    assert (
                        gw.post(
                            f"/api/v1/inspections/{answer['id']}/feedback", json=body, headers=ADMIN
                        ).status_code
                        == 201
                    )
                # a revision of the same feedback is not a second opinion
                gw.post(
                    f"/api/v1/inspections/{answers[1]['id']}/feedback", json={"correct": True}, headers=ADMIN
                )
                after = samples(gw)

                def delta(name: str, **labels: str) -> float:
                    return value(after, name, **labels) - value(before, name, **labels)

                version = {"model": "bench", "model_version": "1"}
                statuses = {a["confidence_status"] for a in answers}
                counted = sum(
                    delta(
                        "linesight_gateway_inspections_total",
                        station="bench-1",
                        verdict=verdict,
                        confidence_status=status,
                        **version,
                    )
                    for verdict in ("OK", "NOK")
                    for status in statuses
                )
                assert counted == 3
                nok = sum(
                    delta(
                        "linesight_gateway_inspections_total",
                        station="bench-1",
                        verdict="NOK",
                        confidence_status=status,
                        **version,
                    )
                    for status in statuses
                )
                assert nok == 2
                assert (
                    delta(
                        "linesight_gateway_missing_items_total", station="bench-1", **{"class": "screwdriver"}
                    )
                    == 2
                )
                assert delta("linesight_gateway_inspection_confidence_count", station="bench-1") == 3
                for agreement in ("right", "wrong"):
                    assert (
                        delta(
                            "linesight_gateway_feedback_total",
                            station="bench-1",
                            agreement=agreement,
                            **version,
                        )
                        == 1
                    ), agreement

                # the last inspection's time, and no pending photo, from the database
                # (a refresh from before the photos already says 0 pending, but knows no last inspection)
                last_key = (
                    "linesight_gateway_station_last_inspection_timestamp_seconds",
                    frozenset({("station", "bench-1")}),
                )
                snap = wait_until(
                    gw,
                    lambda s: (
                        s.get(last_key)
                        and s.get(
                            ("linesight_gateway_pending_inspections", frozenset({("station", "bench-1")}))
                        )
                        == 0
                    ),
                )
                last = value(
                    snap, "linesight_gateway_station_last_inspection_timestamp_seconds", station="bench-1"
                )
                assert abs(last - time.time()) < 300
                assert ("linesight_gateway_pending_inspections", frozenset({("station", "bench-1")})) in snap

        # inference is gone: the photo waits, and the gauge shows it with its age
        with TestClient(create_gateway(GatewaySettings())) as gw:
            resp = gw.post(
                "/api/v1/inspections",
                data={"station_id": sid},
                files={"image": ("p.jpg", jpeg(full))},
                headers=ADMIN,
            )
            assert resp.status_code == 202, resp.text
            snap = wait_for(gw, "linesight_gateway_pending_inspections", {"station": "bench-1"}, 1)
            assert value(snap, "linesight_gateway_pending_inspections", station="bench-1") == 1
            assert value(snap, "linesight_gateway_pending_oldest_age_seconds", station="bench-1") >= 0
            assert value(snap, "linesight_gateway_queue_gauges_refreshed_timestamp_seconds") > 0


def test_label_reads_review_queue_and_corrections_are_counted(gw, monkeypatch):  # noqa: F811
    before = samples(gw)
    operator = gw.keys["operator"]
    clean = send(gw, png(render(random_spec(random.Random(6), "lenovo"))), operator).json()
    assert clean["status"] == "approved"
    doubtful_spec = random_spec(random.Random(11), "dell", valid_ean=False)
    doubtful = send(gw, png(render(doubtful_spec)), operator, vendor_hint="dell").json()
    assert doubtful["status"] == "needs_review"
    after = samples(gw)
    assert (
        value(after, "linesight_gateway_label_reads_total", status="approved", vendor="lenovo")
        - value(before, "linesight_gateway_label_reads_total", status="approved", vendor="lenovo")
        == 1
    )
    assert (
        value(after, "linesight_gateway_label_reads_total", status="needs_review", vendor="dell")
        - value(before, "linesight_gateway_label_reads_total", status="needs_review", vendor="dell")
        == 1
    )

    # the gauges come from the database: one read waits
    from linesight_gateway.domain.queue_gauges import refresh

    refresh(gw.app.state.session_factory)
    snap = samples(gw)
    assert value(snap, "linesight_gateway_label_review_queue_depth") == 1
    assert value(snap, "linesight_gateway_label_review_oldest_age_seconds") >= 0

    # the reviewer fixes the EAN's check digit: one ean13 code corrected, the queue is empty
    from linesight_core.label_codes import gtin_check_digit

    ean = doubtful_spec.ean13[:-1] + str(gtin_check_digit(doubtful_spec.ean13[:-1]))
    codes = [{"type": c["type"], "value": c["value"]} for c in doubtful["codes"] if c["type"] != "ean13"]
    resp = gw.post(
        f"/api/v1/labels/{doubtful['id']}/corrections",
        json={"codes": [*codes, {"type": "ean13", "value": ean}]},
        headers=operator,
    )
    assert resp.status_code == 200, resp.text
    refresh(gw.app.state.session_factory)
    final = samples(gw)
    assert (
        value(final, "linesight_gateway_label_codes_corrected_total", type="ean13", change="corrected")
        - value(before, "linesight_gateway_label_codes_corrected_total", type="ean13", change="corrected")
        == 1
    )
    assert (
        value(final, "linesight_gateway_label_reviews_total", outcome="corrected")
        - value(before, "linesight_gateway_label_reviews_total", outcome="corrected")
        == 1
    )
    assert value(final, "linesight_gateway_label_review_queue_depth") == 0
    assert value(final, "linesight_gateway_label_review_oldest_age_seconds") == 0
