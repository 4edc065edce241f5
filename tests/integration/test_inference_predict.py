"""The inference service answering predictions through a real registry (a `python -m linesight_registry`
process on the test Postgres, S3 store and Redis): answers equal to the reference pre/post-processing,
clear 4xx answers for bad requests, micro-batching, the bounded set of loaded versions, and the periodic
alias check that catches a promotion whose event was missed."""

import io
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import onnxruntime as ort
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from linesight_core.images import decode_image
from linesight_inference.domain.yolo import classify_input, decode_detect, letterbox, topk
from linesight_inference.main import create_app
from linesight_inference.settings import InferenceSettings
from tests.support.services import RegistryAdmin, ServiceProcess, free_port, problem, variant
from tests.support.synthetic import draw_scene
from tests.support.yolo_models import classify_model, detect_model

pytestmark = pytest.mark.integration

TOKEN = "inference-predict-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LIMITS = {"max_bytes": 20 * 1024 * 1024, "max_pixels": 40_000_000}


def encode(img: Image.Image, fmt: str = "JPEG") -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def photos(n: int, seed: int = 3) -> list[bytes]:
    rng = random.Random(seed)
    sizes = [(320, 240), (400, 300), (250, 180), (640, 480)]
    return [
        encode(draw_scene(rng, size=sizes[i % len(sizes)])[0], "JPEG" if i % 2 else "PNG") for i in range(n)
    ]


@pytest.fixture(scope="module")
def detect_onnx() -> Path:
    return detect_model()


@pytest.fixture(scope="module")
def classify_onnx() -> Path:
    return classify_model()


@pytest.fixture
def registry(fresh_service_env, tmp_path, detect_onnx, classify_onnx):
    """A registry process with `bench` (detect) and `okcheck` (classify) in production at v1, and `fresh`
    (detect) with a version but no production alias."""
    proc = ServiceProcess(
        "linesight_registry",
        {**fresh_service_env, "LINESIGHT_SERVICE_TOKEN": TOKEN},
        tmp_path / "registry.log",
    )
    admin = RegistryAdmin(proc.url, TOKEN)
    try:
        proc.wait_ready()
        admin.create_model("bench", "detect")
        admin.upload("bench", detect_onnx)
        admin.move("bench", "production", 1)
        admin.create_model("okcheck", "classify")
        admin.upload("okcheck", classify_onnx)
        admin.move("okcheck", "production", 1)
        admin.create_model("fresh", "detect")
        admin.upload("fresh", detect_onnx)
        proc.admin = admin
        yield proc
    finally:
        admin.close()
        proc.stop()


@pytest.fixture
def inference(fresh_service_env, registry, tmp_path, monkeypatch):
    """`inference(**settings)`: a TestClient on the inference app, talking to the registry process."""
    for key, value in fresh_service_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("LINESIGHT_SERVICE_TOKEN", TOKEN)
    monkeypatch.setenv("LINESIGHT_LOG_FORMAT", "console")
    clients = []

    def start(**overrides) -> TestClient:
        options = {"registry_url": registry.url, "model_cache_dir": tmp_path / "models", **overrides}
        client = TestClient(create_app(InferenceSettings(**options)))
        client.__enter__()
        client.headers.update(AUTH)
        clients.append(client)
        return client

    yield start
    for client in clients:
        client.__exit__(None, None, None)


def predict(client: TestClient, data: bytes, **params):
    return client.post(
        "/v1/predict", data={k: str(v) for k, v in params.items()}, files={"image": ("p", data)}
    )


def fit_letterbox(size: int):
    """The reference's own rule for a reduced decode: the photo's long side goes to the input size."""
    return lambda w, h: (round(w * size / max(w, h)), round(h * size / max(w, h)))


def fit_shortest(size: int):
    return lambda w, h: (max(round(w * size / min(w, h)), size), max(round(h * size / min(w, h)), size))


def reference_detect(path: Path, data: bytes, conf: float = 0.25) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    # A JPEG decoded reduced (DCT scaling) to no less than the letterboxed size, as the service does; the
    # boxes are then scaled back to the photo's own pixels.
    decoded = decode_image(data, **LIMITS, fit=fit_letterbox(160))
    # the service pads to the stride (32) as Ultralytics' predict does for dynamic-size models
    chw, lb = letterbox(np.asarray(decoded.image), (160, 160), stride=32)
    raw = session.run(None, {session.get_inputs()[0].name: chw[None]})[0][0]
    det = decode_detect(raw, lb, conf_thres=conf, iou_thres=0.7, max_det=300)
    det[:, [0, 2]] *= decoded.width / decoded.image.width
    det[:, [1, 3]] *= decoded.height / decoded.image.height
    return det


def reference_classify(path: Path, data: bytes, k: int) -> list[tuple[int, float]]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    chw = classify_input(decode_image(data, **LIMITS, fit=fit_shortest(96)).image, (96, 96))
    return topk(session.run(None, {session.get_inputs()[0].name: chw[None]})[0][0], k)


def as_rows(answer: dict) -> list[tuple]:
    return [
        (d["class_id"], d["confidence"], d["box"]["x1"], d["box"]["y1"], d["box"]["x2"], d["box"]["y2"])
        for d in answer["detections"]
    ]


def assert_same_detections(a: list[tuple], b: list[tuple], box_tol: float = 0.05, conf_tol: float = 1e-3):
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x[0] == y[0]
        assert abs(x[1] - y[1]) <= conf_tol
        assert all(abs(p - q) <= box_tol for p, q in zip(x[2:], y[2:], strict=True))


def metric(client: TestClient, name: str, **labels) -> float:
    total = 0.0
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def test_detect_and_classify_answers_equal_the_reference_processing(
    inference, registry, detect_onnx, classify_onnx
):
    client = inference()
    sha = registry.admin.http.get("/v1/models/bench/versions/1").json()["sha256"]
    wrench_before = metric(client, "linesight_inference_predictions_total", model="bench", label="wrench")
    images = photos(6)
    bus = (Path(__import__("ultralytics").__file__).parent / "assets" / "bus.jpg").read_bytes()
    camera = draw_scene(random.Random(5), size=(640, 480))[0].resize((4032, 3024), Image.BICUBIC)
    seen = 0
    for data in [*images, bus, encode(camera)]:
        resp = predict(client, data, model="bench")
        assert resp.status_code == 200, resp.text
        answer = resp.json()
        assert (answer["model_name"], answer["alias"], answer["version"]) == ("bench", "production", 1)
        assert answer["sha256"] == sha
        assert answer["task"] == "detect" and answer["classes"] is None
        img = Image.open(io.BytesIO(data))
        assert answer["image"] == {"width": img.width, "height": img.height}
        assert set(answer["timings_ms"]) == {"queue", "preprocess", "inference", "postprocess", "total"}
        expected = reference_detect(detect_onnx, data)
        assert_same_detections(
            as_rows(answer), [tuple([int(r[5]), *r[4:5], *r[:4]]) for r in expected.tolist()]
        )
        for det in answer["detections"]:
            assert det["label"] == ["wrench", "screwdriver", "tape"][det["class_id"]]
            assert 0 <= det["box"]["x1"] <= det["box"]["x2"] <= img.width
        seen += len(answer["detections"])
    assert seen > 0, "the comparison must cover real detections"

    low = predict(client, images[0], model="bench", conf=0.05, max_det=2).json()
    assert len(low["detections"]) <= 2
    assert [d["confidence"] for d in low["detections"]] == sorted(
        (d["confidence"] for d in low["detections"]), reverse=True
    )

    for data in images[:3]:
        resp = client.post("/v1/predict?model=okcheck&top_k=2", files={"image": ("p", data)})
        answer = resp.json()
        assert answer["task"] == "classify" and answer["detections"] is None
        ref = reference_classify(classify_onnx, data, 2)
        assert [c["class_id"] for c in answer["classes"]] == [c for c, _ in ref]
        assert all(abs(c["confidence"] - p) < 1e-3 for c, (_, p) in zip(answer["classes"], ref, strict=True))
        assert {c["label"] for c in answer["classes"]} == {"ok", "nok"}

    pinned = predict(client, images[1], model="bench", version=1).json()
    assert (pinned["alias"], pinned["version"]) == (None, 1)

    loaded = {(m["model_name"], m["version"]): m for m in client.get("/v1/models").json()}
    assert set(loaded) == {("bench", 1), ("okcheck", 1)}
    bench = loaded[("bench", 1)]
    assert bench["aliases"] == ["production"]
    assert bench["sha256"] == sha
    assert bench["requests_served"] == 10  # 8 photos, the low-confidence one, the pinned one
    assert bench["providers"][-1] == "CPUExecutionProvider"
    assert bench["dynamic_batch"] is True

    after = metric(client, "linesight_inference_predictions_total", model="bench", label="wrench")
    assert after > wrench_before
    assert (
        metric(
            client, "linesight_inference_loaded_version_info", model="bench", alias="production", version="1"
        )
        == 1
    )
    assert metric(client, "linesight_inference_stage_duration_seconds_count", stage="inference") > 0
    # every loaded model's counters exist from its load on, at 0 where nothing happened: a dashboard
    # shows "none refused" rather than "No data"
    series = {
        (s.name, tuple(sorted(s.labels.items())))
        for f in text_string_to_metric_families(client.get("/metrics").text)
        for s in f.samples
    }
    assert ("linesight_inference_refused_total", (("model", "okcheck"),)) in series
    for label in ("wrench", "screwdriver", "tape"):
        assert ("linesight_inference_predictions_total", (("label", label), ("model", "bench"))) in series


def test_batch_endpoint_answers_in_order_like_single_requests(inference):
    client = inference(max_batch_size=8, max_batch_wait_ms=1000)
    images = photos(5, seed=9)
    singles = [as_rows(predict(client, data, model="bench").json()) for data in images]
    resp = client.post(
        "/v1/predict/batch",
        data={"model": "bench"},
        files=[("images", (f"{i}.jpg", d)) for i, d in enumerate(images)],
    )
    assert resp.status_code == 200, resp.text
    answers = resp.json()
    assert len(answers) == 5
    for answer, single in zip(answers, singles, strict=True):
        assert answer["batch_size"] == 5  # announced together: one ONNX Runtime run
        assert_same_detections(as_rows(answer), single, box_tol=0.1)


def test_bad_requests_get_clear_answers(inference, fresh_service_env, registry, monkeypatch):
    client = inference(image_max_bytes=200_000)
    ok = photos(1)[0]

    assert (
        client.post(
            "/v1/predict", data={"model": "bench"}, files={"image": ("p", ok)}, headers={"Authorization": ""}
        ).status_code
        == 401
    )
    wrong = client.post(
        "/v1/predict",
        data={"model": "bench"},
        files={"image": ("p", ok)},
        headers={"Authorization": "Bearer nope"},
    )
    assert wrong.status_code == 403

    cases = [
        (b"%PDF-1.4 not an image at all", 422, "not an image"),
        (encode(Image.new("RGB", (1, 1))), 422, "1x1"),
        (
            encode(
                Image.fromarray(np.random.default_rng(0).integers(0, 255, (400, 400, 3), dtype=np.uint8)),
                "PNG",
            ),
            413,
            "200000",
        ),
        (encode(Image.new("RGB", (64, 64)), "GIF"), 415, "GIF"),
        (ok[: len(ok) // 2], 422, "damaged"),
    ]
    for data, status, needle in cases:
        resp = predict(client, data, model="bench")
        body = problem(resp)
        assert resp.status_code == status, (needle, resp.text)
        assert needle in body["detail"], body

    unknown = predict(client, ok, model="nosuchmodel")
    assert unknown.status_code == 404
    assert "nosuchmodel" in problem(unknown)["detail"]
    no_production = predict(client, ok, model="fresh")
    assert no_production.status_code == 404
    assert "production" in problem(no_production)["detail"]
    assert predict(client, ok, model="fresh", version=1).status_code == 200  # a version by number still works
    assert predict(client, ok, model="bench", version=7).status_code == 404
    assert predict(client, ok, model="bench", alias="staging").status_code == 404

    for params in (
        {"model": "bench", "conf": "2"},
        {"model": "bench", "alias": "production", "version": "1"},
        {},
        {"model": "Bad/Name"},
        {"model": "bench", "max_det": "zero"},
    ):
        resp = predict(client, ok, **params)
        assert resp.status_code == 422, (params, resp.text)
        assert problem(resp)["errors"]
    assert client.post("/v1/predict", data={"model": "bench"}).status_code == 422  # no image
    assert (
        client.post("/v1/predict?conf=1.5", data={"model": "bench"}, files={"image": ("p", ok)}).status_code
        == 422
    )

    # The image as the raw body: the same answer as multipart, the same limits, a clear 415 otherwise.
    raw = client.post("/v1/predict?model=bench", content=ok, headers={"Content-Type": "image/png"})
    assert raw.status_code == 200, raw.text
    assert as_rows(raw.json()) == as_rows(predict(client, ok, model="bench").json())
    jpg = photos(2)[1]
    raw_jpeg = client.post("/v1/predict?model=bench", content=jpg, headers={"Content-Type": "image/jpeg"})
    assert raw_jpeg.status_code == 200 and as_rows(raw_jpeg.json()) == as_rows(
        predict(client, jpg, model="bench").json()
    )
    big = cases[2][0]
    over = client.post("/v1/predict?model=bench", content=big, headers={"Content-Type": "image/png"})
    assert over.status_code == 413 and "200000" in problem(over)["detail"]
    huge = client.post(
        "/v1/predict?model=bench", content=b"\xff" * 600_000, headers={"Content-Type": "image/jpeg"}
    )
    assert huge.status_code == 413, huge.text
    junk = client.post("/v1/predict?model=bench", content=b"junk", headers={"Content-Type": "image/jpeg"})
    assert junk.status_code == 422 and "not an image" in problem(junk)["detail"]
    for media in ("text/plain", "application/json", "image/svg+xml"):
        wrong_type = client.post("/v1/predict?model=bench", content=ok, headers={"Content-Type": media})
        assert wrong_type.status_code == 415, (media, wrong_type.text)
        assert media in problem(wrong_type)["detail"] and "image/jpeg" in problem(wrong_type)["detail"]
    no_model = client.post("/v1/predict", content=ok, headers={"Content-Type": "image/png"})
    assert no_model.status_code == 422 and problem(no_model)["errors"]

    too_many = client.post("/v1/predict/batch", data={"model": "bench"}, files=[("images", ("p", ok))] * 65)
    assert too_many.status_code == 422 and "64" in problem(too_many)["detail"]
    one_bad = client.post(
        "/v1/predict/batch",
        data={"model": "bench"},
        files=[("images", ("a", ok)), ("images", ("b", b"junk"))],
    )
    assert one_bad.status_code == 422 and problem(one_bad)["detail"].startswith("images[1]:")

    # the registry is gone: a model not loaded yet cannot be resolved, and the answer says who is missing
    down = inference(registry_url=f"http://127.0.0.1:{free_port()}", http_retries=0)
    resp = predict(down, ok, model="bench")
    assert resp.status_code == 503
    assert "registry" in problem(resp)["detail"]


def test_concurrent_requests_share_runs_and_answer_like_single_requests(inference):
    client = inference(max_batch_size=8, max_batch_wait_ms=20, max_concurrent_batches=1)
    images = photos(16, seed=5)
    singles = [as_rows(predict(client, data, model="bench").json()) for data in images]
    count_before = metric(client, "linesight_inference_batch_size_count")
    ones_before = metric(client, "linesight_inference_batch_size_bucket", le="1.0")
    biggest = 0
    with ThreadPoolExecutor(16) as pool:
        for _ in range(10):  # concurrency makes batches; a few rounds make it certain
            answers = list(pool.map(lambda d: predict(client, d, model="bench").json(), images))
            for answer, single in zip(answers, singles, strict=True):
                assert_same_detections(as_rows(answer), single, box_tol=0.1)
                assert answer["batch_size"] <= 8
            biggest = max(biggest, *(a["batch_size"] for a in answers))
            if biggest > 1:
                break
    assert biggest > 1
    runs = metric(client, "linesight_inference_batch_size_count") - count_before
    single_runs = metric(client, "linesight_inference_batch_size_bucket", le="1.0") - ones_before
    assert runs > single_runs, "the batch size histogram records runs of more than one image"


def test_a_lone_request_is_not_held_for_the_batch_wait(inference):
    wait_ms = 1000.0  # the largest accepted setting
    client = inference(max_batch_size=16, max_batch_wait_ms=wait_ms)
    data = photos(1)[0]
    predict(client, data, model="bench")  # loads the model
    for _ in range(3):
        timings = predict(client, data, model="bench").json()["timings_ms"]
        assert timings["queue"] < wait_ms / 10, timings
        assert timings["total"] < wait_ms, timings


def test_loaded_versions_are_bounded_and_reloaded_on_demand(inference):
    client = inference(max_loaded_models=1)
    data = photos(1)[0]
    assert predict(client, data, model="bench").json()["version"] == 1
    assert predict(client, data, model="okcheck").json()["task"] == "classify"
    assert [m["model_name"] for m in client.get("/v1/models").json()] == ["okcheck"]
    assert predict(client, data, model="bench").status_code == 200
    assert [m["model_name"] for m in client.get("/v1/models").json()] == ["bench"]
    assert metric(client, "linesight_inference_model_loads_total", model="bench", outcome="loaded") >= 2


def test_a_missed_promotion_is_caught_by_the_periodic_check(inference, registry, detect_onnx, tmp_path):
    # Promotion events cannot arrive: this replica's Redis URL points nowhere. Only the check remains.
    client = inference(redis_url=f"redis://127.0.0.1:{free_port()}/0", reload_check_seconds=0.3)
    registry.admin.upload("bench", variant(detect_onnx, tmp_path / "v2.onnx", "v2"))
    data = photos(1)[0]
    assert predict(client, data, model="bench").json()["version"] == 1
    registry.admin.move("bench", "production", 2)
    deadline = time.monotonic() + 30
    versions = []
    while time.monotonic() < deadline:
        versions.append(predict(client, data, model="bench").json()["version"])
        if versions[-1] == 2:
            break
        time.sleep(0.05)
    assert versions[-1] == 2, "the periodic check did not pick up the promotion"
    assert all(predict(client, data, model="bench").json()["version"] == 2 for _ in range(3))
    loaded = client.get("/v1/models").json()
    assert [(m["version"], m["aliases"]) for m in loaded] == [(2, ["production"])]  # v1 was released


def test_clients_in_threads_see_one_swap(inference, registry, detect_onnx, tmp_path):
    """Promotion by event, in process: every response names a version, and a client never goes back."""
    client = inference(reload_check_seconds=0)
    app = client.app
    registry.admin.upload("bench", variant(detect_onnx, tmp_path / "v2.onnx", "v2"))
    data = photos(1)[0]
    assert predict(client, data, model="bench").json()["version"] == 1
    deadline = time.monotonic() + 30
    while not app.state.promotions.subscribed.is_set() and time.monotonic() < deadline:
        time.sleep(0.05)
    stop = threading.Event()
    seen: list[list[int]] = [[] for _ in range(3)]

    def loop(k: int) -> None:
        while not stop.is_set():
            resp = predict(client, data, model="bench")
            seen[k].append(resp.status_code if resp.status_code != 200 else resp.json()["version"])

    threads = [threading.Thread(target=loop, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    try:
        registry.admin.move("bench", "production", 2)
        while time.monotonic() < deadline and not all(s[-5:] == [2] * 5 for s in seen):
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    for versions in seen:
        assert set(versions) <= {1, 2}, versions
        assert versions[-5:] == [2] * 5
        first_two = versions.index(2)
        assert all(v == 2 for v in versions[first_two:]), versions


def test_events_resume_after_redis_comes_back_and_the_outage_is_caught_up(
    inference, fresh_service_env, detect_onnx, tmp_path
):
    """Redis restarts while a promotion happens: the subscriber reconnects by itself and re-checks what it
    serves, so the promotion sent while it was away is picked up (the periodic check is off)."""
    from linesight_devstack import RedisServer

    folder = tmp_path / "redis"
    redis = RedisServer(folder).start()
    env = {**fresh_service_env, "LINESIGHT_REDIS_URL": redis.url, "LINESIGHT_SERVICE_TOKEN": TOKEN}
    registry = ServiceProcess("linesight_registry", env, tmp_path / "registry-own.log")
    admin = RegistryAdmin(registry.url, TOKEN)
    try:
        registry.wait_ready()
        admin.create_model("line", "detect")
        admin.upload("line", detect_onnx)
        admin.upload("line", variant(detect_onnx, tmp_path / "v2.onnx", "v2"))
        admin.move("line", "production", 1)
        client = inference(registry_url=registry.url, redis_url=redis.url, reload_check_seconds=0)
        watcher = client.app.state.promotions
        data = photos(1)[0]
        assert predict(client, data, model="line").json()["version"] == 1

        redis.stop()
        wait_until(lambda: not watcher.subscribed.is_set(), "the subscriber to notice")
        try:  # the move is committed; announcing it fails with Redis down (the registry's answer varies)
            admin.http.put("/v1/models/line/aliases/production", json={"version": 2})
        except httpx.HTTPError:
            pass
        alias = httpx.get(f"{registry.url}/v1/models/line/aliases/production", headers=AUTH)  # new connection
        assert alias.json()["version"] == 2
        assert predict(client, data, model="line").json()["version"] == 1  # nothing told this replica yet

        redis.start()
        wait_until(lambda: predict(client, data, model="line").json()["version"] == 2, "the catch-up check")
        assert watcher.subscribed.is_set()
        registry.wait_ready()
        admin.move("line", "production", 1)  # and events flow again
        wait_until(lambda: predict(client, data, model="line").json()["version"] == 1, "the next event")
    finally:
        admin.close()
        registry.stop()
        redis.stop()


def wait_until(condition, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_the_gateways_client_sends_jpeg_and_png_as_the_raw_body(inference):
    """linesight_core's InferenceClient (what the gateway calls inference with), on the service's own event
    loop: JPEG and PNG go as the raw body, other formats as multipart; both answer like a form does."""
    from linesight_core.clients.errors import UpstreamError
    from linesight_core.clients.inference import InferenceClient
    from linesight_core.contracts.inference import PredictParams

    client = inference()
    sent: list[str] = []

    async def record(request: httpx.Request) -> None:
        sent.append(request.headers["content-type"].split(";")[0])

    rng = random.Random(9)
    scene = draw_scene(rng, size=(400, 300))[0]
    jpg, png, webp = encode(scene, "JPEG"), encode(scene, "PNG"), encode(scene, "WEBP")

    async def calls():
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=client.app),
            base_url="http://inference",
            headers=AUTH,
            event_hooks={"request": [record]},
        )
        inference_client = InferenceClient(http)
        try:
            params = PredictParams(model="bench")
            answers = [await inference_client.predict(data, params) for data in (jpg, png, webp)]
            try:
                await inference_client.predict(encode(scene, "GIF"), params)
            except UpstreamError as exc:
                refused = exc
            return answers, refused
        finally:
            await http.aclose()

    answers, refused = client.portal.call(calls)
    assert sent == ["image/jpeg", "image/png", "multipart/form-data", "multipart/form-data"]
    for data, answer in zip((jpg, png, webp), answers, strict=True):
        assert [d.model_dump() for d in answer.detections] == predict(client, data, model="bench").json()[
            "detections"
        ]
        assert (answer.image.width, answer.image.height) == (400, 300)
    assert refused.status == 415 and "GIF" in refused.detail
