"""Hot reload under load, with the services as real processes: while clients send a steady stream of
predictions, production moves to a new version and back. No request fails, every answer names the version
(and artifact) that produced it, and no client ever sees an older version after a newer one answered it."""

import io
import random
import threading
import time

import httpx
import pytest

from tests.support.services import RegistryAdmin, ServiceProcess, variant
from tests.support.synthetic import draw_scene
from tests.support.yolo_models import detect_model

pytestmark = pytest.mark.integration

TOKEN = "hot-reload-token"
LOOPS = 4
MAX_REQUESTS_PER_LOOP = 3000  # a bound, far above what the test needs


def jpeg(seed: int) -> bytes:
    img, _ = draw_scene(random.Random(seed))
    buf = io.BytesIO()
    img.save(buf, "JPEG")
    return buf.getvalue()


class ClientLoop(threading.Thread):
    """Sends one request after another and records what answered each."""

    def __init__(self, url: str, image: bytes) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.image = image
        self.stop = threading.Event()
        self.answers: list[tuple[int, str]] = []  # (version, sha256)
        self.failures: list[str] = []

    def run(self) -> None:
        with httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
        ) as http:
            while not self.stop.is_set() and len(self.answers) + len(self.failures) < MAX_REQUESTS_PER_LOOP:
                try:
                    resp = http.post(
                        "/v1/predict", data={"model": "bench"}, files={"image": ("p.jpg", self.image)}
                    )
                except httpx.HTTPError as exc:
                    self.failures.append(f"{type(exc).__name__}: {exc}")
                    continue
                if resp.status_code != 200:
                    self.failures.append(f"{resp.status_code} {resp.text[:300]}")
                    continue
                body = resp.json()
                self.answers.append((body["version"], body["sha256"]))

    def versions(self) -> list[int]:
        return [v for v, _ in self.answers]


def wait_for(condition, what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def runs(versions: list[int]) -> list[int]:
    """The versions in the order a client saw them, repeats collapsed: [1, 1, 2, 2, 1] -> [1, 2, 1]."""
    return [v for i, v in enumerate(versions) if i == 0 or versions[i - 1] != v]


def test_promotion_and_rollback_under_load_fail_no_request(fresh_service_env, tmp_path):
    env = {**fresh_service_env, "LINESIGHT_SERVICE_TOKEN": TOKEN}
    registry = ServiceProcess("linesight_registry", env, tmp_path / "registry.log")
    inference = None
    loops: list[ClientLoop] = []
    try:
        registry.wait_ready()
        inference = ServiceProcess(
            "linesight_inference",
            {
                **env,
                "LINESIGHT_REGISTRY_URL": registry.url,
                "LINESIGHT_MODEL_CACHE_DIR": str(tmp_path / "models"),
                "LINESIGHT_RELOAD_CHECK_SECONDS": "300",  # the events must do it, not the fallback
            },
            tmp_path / "inference.log",
        )
        inference.wait_ready()
        admin = RegistryAdmin(registry.url, TOKEN)
        admin.create_model("bench", "detect")
        v1 = admin.upload("bench", detect_model())
        v2 = admin.upload("bench", variant(detect_model(), tmp_path / "v2.onnx", "v2"))
        assert (v1["version"], v2["version"]) == (1, 2)
        sha = {1: v1["sha256"], 2: v2["sha256"]}
        admin.move("bench", "production", 1)

        loops = [ClientLoop(inference.url, jpeg(k)) for k in range(LOOPS)]
        for loop in loops:
            loop.start()
        wait_for(lambda: all(len(lp.answers) >= 5 for lp in loops), "the first answers")

        admin.move("bench", "production", 2)
        wait_for(lambda: all(lp.versions()[-10:] == [2] * 10 for lp in loops), "every client on version 2")

        admin.move("bench", "production", 1)  # roll back
        wait_for(lambda: all(lp.versions()[-10:] == [1] * 10 for lp in loops), "every client back on 1")
    finally:
        for loop in loops:
            loop.stop.set()
        for loop in loops:
            loop.join(60)
        if inference is not None:
            loaded = httpx.get(
                f"{inference.url}/v1/models", headers={"Authorization": f"Bearer {TOKEN}"}
            ).json()
            metrics = httpx.get(f"{inference.url}/metrics").text
            inference.stop()
        registry.stop()

    for loop in loops:
        assert loop.failures == [], loop.failures[:5]
        assert all(sha[v] == s for v, s in loop.answers), "every answer names the artifact that produced it"
        assert runs(loop.versions()) == [1, 2, 1], "one switch to 2, one back to 1, no flapping"
    assert sum(len(lp.answers) for lp in loops) > 4 * 25
    assert [(m["version"], m["aliases"]) for m in loaded] == [
        (1, ["production"])
    ]  # v2 released after the rollback
    assert 'linesight_inference_alias_swaps_total{model="bench"} 2.0' in metrics
    log = inference.log_text()
    assert log.count("alias swapped") == 2
    assert "Traceback" not in log
