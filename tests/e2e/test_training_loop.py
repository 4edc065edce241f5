"""The whole feedback loop on the local stack, through the gateway, as `make demo` runs it: station →
dataset import → version → training run with progress → evaluation report → model version with
lineage → staging → promotion → inspection answered by the new version → feedback → new dataset version.
Small settings (few images and epochs) keep it to a few minutes on two CPU cores."""

import io
import time

import httpx
import pytest
from PIL import Image

from linesight_devstack.demo import Demo, DemoConfig

CONFIG = DemoConfig(
    name="loop-bench", images=48, image_size=(256, 192), epochs=4, imgsz=160, batch=8, auto_train=True
)


@pytest.fixture(scope="module")
def loop(stack):
    lines: list[str] = []
    demo = Demo(stack.urls["gateway"], stack.env["LINESIGHT_ADMIN_API_KEY"], CONFIG, echo=lines.append)
    try:
        result = demo.run()
    finally:
        demo.close()
        print("\n".join(lines))
    return result, lines


def test_training_reports_every_epoch_and_registers_a_version_with_lineage(gateway, loop):
    result, lines = loop
    run = gateway.get(f"/api/v1/training-runs/{result.run_id}").json()
    assert run["status"] == "succeeded"
    epochs = gateway.get(f"/api/v1/training-runs/{result.run_id}/epochs").json()
    assert [e["epoch"] for e in epochs] == list(range(1, CONFIG.epochs + 1))
    assert all(e["elapsed_s"] > 0 and "mAP50" in e["metrics"] for e in epochs)
    assert sum(line.strip().startswith("epoch ") for line in lines) == CONFIG.epochs

    version = gateway.get(f"/api/v1/models/{CONFIG.name}/versions/{result.model_version}").json()
    dataset_version = gateway.get(f"/api/v1/datasets/{CONFIG.name}/versions/{result.dataset_version}").json()
    assert version["training_run_id"] == result.run_id
    assert version["dataset_version_id"] == dataset_version["id"]
    assert version["params"]["epochs"] == CONFIG.epochs
    assert version["metrics"]["mAP50"] == pytest.approx(run["evaluation"]["challenger"]["metrics"]["mAP50"])


def test_evaluation_report_has_metrics_per_class_and_plots(gateway, loop):
    result, _ = loop
    ev = result.evaluation
    assert ev["split"] in ("test", "val") and ev["images"] > 0
    metrics = ev["challenger"]["metrics"]
    assert {"mAP50", "mAP50-95", "precision", "recall"} <= metrics.keys()
    assert 0.0 <= metrics["mAP50-95"] <= metrics["mAP50"] <= 1.0
    assert ev["champion"] is None  # the first model of this name has no production version to beat
    assert ev["challenger"]["confusion_matrix"]
    assert {"confusion_matrix", "pr_curve"} <= ev["challenger"]["plots"].keys()
    for name in ("confusion_matrix.png", "pr_curve.png"):
        plot = gateway.get(f"/api/v1/training-runs/{result.run_id}/artifacts/{name}")
        assert plot.status_code == 200 and plot.headers["content-type"] == "image/png"
        assert Image.open(io.BytesIO(plot.content)).size[0] > 100
    # The weights are a model artifact (engineer, like the ONNX file), served apart from the plots.
    weights = gateway.get(f"/api/v1/training-runs/{result.run_id}/weights/best.pt")
    assert weights.status_code == 200 and len(weights.content) > 1_000_000
    assert gateway.get(f"/api/v1/training-runs/{result.run_id}/artifacts/best.pt").status_code == 404
    missing = gateway.get(f"/api/v1/training-runs/{result.run_id}/artifacts/nothing.png")
    assert missing.status_code == 404 and "best.pt" in missing.json()["detail"]


def test_the_first_model_is_staged_then_promoted_and_answers_inspections(gateway, loop):
    result, _ = loop
    assert result.staged
    model = gateway.get(f"/api/v1/models/{CONFIG.name}").json()
    assert model["aliases"]["production"] == result.model_version
    assert model["aliases"]["staging"] == result.model_version
    history = gateway.get(f"/api/v1/models/{CONFIG.name}/alias-history").json()["items"]
    staged = [h for h in history if h["alias"] == "staging"]
    assert staged and staged[-1]["moved_by"].startswith("training:")
    assert result.inspection["model"]["version"] == result.model_version
    assert result.inspection["status"] == "completed"


def test_feedback_becomes_a_new_dataset_version(gateway, loop):
    result, _ = loop
    new = result.next_dataset_version
    assert new["version"] == result.dataset_version + 1
    assert new["diff"]["added"] + new["diff"]["relabelled"] == 1
    item = gateway.get(f"/api/v1/datasets/{CONFIG.name}/items/{result.feedback_item}").json()
    assert item["source"] == "feedback"
    assert item["origin"] == f"inspection:{result.inspection['id']}"
    if result.feedback_corrected:  # the operator's boxes: the wrench and the screwdriver
        assert sorted(label["class_id"] for label in item["labels"]) == [0, 1]
    else:  # the answer was confirmed: the model's own boxes are the labels
        assert item["labels"]
    station = next(
        s
        for s in gateway.get("/api/v1/stations", params={"q": CONFIG.name}).json()["items"]
        if s["name"] == CONFIG.name
    )
    assert station["training_state"]["last_version"] == new["version"]
    audit = gateway.get("/api/v1/audit", params={"action": "dataset.version.auto"}).json()["items"]
    assert any(e["details"].get("version") == new["version"] for e in audit)


def test_the_station_retrains_on_the_version_its_feedback_made(gateway, loop):
    result, _ = loop
    run_id = result.station_training_state["last_run_id"]
    run = gateway.get(f"/api/v1/training-runs/{run_id}").json()
    assert (run["dataset"], run["dataset_version"]) == (CONFIG.name, result.next_dataset_version["version"])
    assert (run["model_name"], run["epochs"], run["imgsz"]) == (CONFIG.name, CONFIG.epochs, CONFIG.imgsz)
    deadline = time.monotonic() + 600
    while run["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, run
        time.sleep(1.0)
        run = gateway.get(f"/api/v1/training-runs/{run_id}").json()
    assert run["status"] == "succeeded", run["error"]
    # The challenger was measured beside the champion (production, version 1) on the same split.
    ev = run["evaluation"]
    assert ev["champion"]["version"] == result.model_version
    assert ev["champion"]["split"] == ev["challenger"]["split"] == ev["split"]
    assert ev["champion"]["images"] == ev["challenger"]["images"]
    assert "mAP50-95" in ev["champion"]["metrics"]
    new, old = ev["challenger"]["metrics"]["mAP50-95"], ev["champion"]["metrics"]["mAP50-95"]
    assert run["staged"] == (new > old), run["decision"]
    assert not run["promoted"]  # production moves only when a person promotes


# Panels that may show nothing after this loop: refusals happen only under overload, and the loop's
# 4-epoch model on 48 images may find no item at all (a counter per class exists only once counted).
def _label_read_and_correction(gateway) -> None:
    """A label read that needs review, corrected by a reviewer: the Labels dashboard's data."""
    import random

    from linesight_core.label_codes import gtin_check_digit
    from linesight_ocr.synthetic import random_spec, render

    spec = random_spec(random.Random(11), "dell", valid_ean=False)
    out = io.BytesIO()
    render(spec).save(out, format="PNG")
    read = gateway.post(
        "/api/v1/labels",
        files={"file": ("label.png", out.getvalue(), "image/png")},
        data={"vendor_hint": "dell"},
    ).json()
    assert read["status"] == "needs_review", read
    ean = spec.ean13[:-1] + str(gtin_check_digit(spec.ean13[:-1]))
    codes = [{"type": c["type"], "value": c["value"]} for c in read["codes"] if c["type"] != "ean13"]
    resp = gateway.post(
        f"/api/v1/labels/{read['id']}/corrections", json={"codes": [*codes, {"type": "ean13", "value": ean}]}
    )
    assert resp.status_code == 200, resp.text


def test_every_dashboard_panel_shows_data_after_the_loop(stack, gateway, loop):
    """After inspections, feedback, a label read, training runs and a promotion, every panel of the four
    line dashboards gets at least one series from the stack's Prometheus."""
    from tests.integration.test_dashboards import DOMAIN_DASHBOARDS, grafana_to_promql, load

    _label_read_and_correction(gateway)
    panels = [(name, p) for name in sorted(DOMAIN_DASHBOARDS) for p in load(name)["panels"]]
    empty: list[str] = []
    # the gateway's database gauges refresh every 15 s and Prometheus scrapes every 2 s
    deadline = time.monotonic() + 60
    while True:
        empty = []
        for name, panel in panels:
            found = False
            for target in panel["targets"]:
                resp = httpx.get(
                    f"{stack.urls['prometheus']}/api/v1/query",
                    params={"query": grafana_to_promql(target["expr"])},
                    timeout=10,
                )
                body = resp.json()
                assert body["status"] == "success", (name, panel["title"], body)
                found = found or bool(body["data"]["result"])
            if not found:
                empty.append(f"{name}: {panel['title']}")
        if not empty or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert empty == [], "panels without data:\n" + "\n".join(empty)
    # the alert rules run on the same Prometheus, and none fails to evaluate
    groups = httpx.get(f"{stack.urls['prometheus']}/api/v1/rules", timeout=10).json()["data"]["groups"]
    assert {"linesight-thresholds", "linesight-line-quality-rates", "linesight-line-quality"} <= {
        g["name"] for g in groups
    }
    assert [r["name"] for g in groups for r in g["rules"] if r.get("health") == "err"] == []
