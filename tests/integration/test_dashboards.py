"""The line-quality, inference, training and label dashboards as Grafana provisions them: valid
dashboard JSON, unique panel ids, a description on every panel, the provisioned datasource, every query
naming its service's `job`, and every query (panels, variables, annotations) accepted by a real
Prometheus (the local stack's)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import httpx
import pytest
import yaml

from linesight_devstack import PrometheusServer
from tests.conftest import shared_tmp_dir

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DASHBOARDS_DIR = REPO / "monitoring" / "grafana" / "dashboards"
DATASOURCES = REPO / "monitoring" / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
DOMAIN_DASHBOARDS = {
    "linesight-line-quality.json": "LineSight — line quality",
    "linesight-inference.json": "LineSight — inference",
    "linesight-training.json": "LineSight — training & data",
    "linesight-labels.json": "LineSight — labels",
}
SERVICE_JOBS = {"gateway", "inference", "ocr-service", "registry", "training-worker", "ui"}


def load(name: str) -> dict:
    return json.loads((DASHBOARDS_DIR / name).read_text(encoding="utf-8"))


def grafana_to_promql(expr: str) -> str:
    """A dashboard expression as Grafana sends it for one concrete selection."""
    return (
        expr.replace("$__rate_interval", "1m")
        .replace("$__interval", "15s")
        .replace("$__range", "1h")
        .replace("$station", ".*")
    )


def queries(dashboard: dict) -> list[tuple[str, str]]:
    """(where, PromQL) of every panel target, variable and annotation."""
    out = [(f"panel {p['title']!r}", t["expr"]) for p in dashboard["panels"] for t in p.get("targets") or []]
    for variable in dashboard["templating"]["list"]:
        query = variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
        selector = re.fullmatch(r"label_values\((.*),\s*\w+\)", query.strip())
        assert selector, f"variable {variable['name']}: {query}"
        out.append((f"variable {variable['name']}", selector.group(1)))
    for annotation in dashboard["annotations"]["list"]:
        if "expr" in annotation:
            out.append((f"annotation {annotation['name']!r}", annotation["expr"]))
    return out


@pytest.fixture(scope="module")
def prometheus():
    folder = shared_tmp_dir("linesight-test-dashboards-")
    server = PrometheusServer(folder / "prom", targets={})
    with server:
        yield server
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("name", sorted(DOMAIN_DASHBOARDS))
def test_dashboard_is_provisionable_and_every_panel_is_described(name):
    dashboard = load(name)
    assert dashboard["title"] == DOMAIN_DASHBOARDS[name]
    assert dashboard["uid"] == name.removesuffix(".json") and len(dashboard["uid"]) <= 40
    assert dashboard["schemaVersion"] >= 36
    assert dashboard.get("id") is None, "a provisioned dashboard must not carry a database id"
    assert dashboard["editable"] is False
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), f"panel ids repeat: {ids}"
    uid = yaml.safe_load(DATASOURCES.read_text())["datasources"][0]["uid"]
    for panel in dashboard["panels"]:
        title = panel["title"]
        assert len(panel.get("description", "")) > 20, f"panel {title!r} has no description"
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, f"panel {title!r} leaves the grid"
        assert panel["datasource"]["uid"] == uid, f"panel {title!r}: datasource"
        assert panel["targets"], f"panel {title!r} has no query"
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == uid, f"panel {title!r}: target datasource"
    for where, expr in queries(dashboard):
        jobs = set(re.findall(r'job="([^"]+)"', expr))
        assert jobs and jobs <= SERVICE_JOBS, f"{where}: every selector names its service's job: {expr}"
        for selector in re.findall(r"linesight_\w+\{([^}]*)\}", expr):
            assert "job=" in selector, f"{where}: a selector without job: {expr}"


def test_all_uids_differ_from_each_other_and_from_the_services_dashboard():
    uids = [load(n)["uid"] for n in [*DOMAIN_DASHBOARDS, "linesight-services.json"]]
    assert len(uids) == len(set(uids))


def test_line_quality_draws_promotions_from_the_registry_alias_moves():
    (annotation,) = [a for a in load("linesight-line-quality.json")["annotations"]["list"] if "expr" in a]
    assert "linesight_registry_alias_moves_total" in annotation["expr"]
    assert 'alias="production"' in annotation["expr"]


def test_every_query_parses_on_a_real_prometheus(prometheus):
    refused = []
    for name in sorted(DOMAIN_DASHBOARDS):
        for where, expr in queries(load(name)):
            resp = httpx.get(
                f"{prometheus.url}/api/v1/query", params={"query": grafana_to_promql(expr)}, timeout=10
            )
            body = resp.json()
            if resp.status_code != 200 or body.get("status") != "success":
                refused.append(f"{name} {where}: {body.get('error')}")
    assert refused == []


def test_the_line_quality_rules_load_into_the_same_prometheus(prometheus):
    groups = httpx.get(f"{prometheus.url}/api/v1/rules", timeout=10).json()["data"]["groups"]
    loaded = {g["name"]: g for g in groups}
    assert {"linesight-thresholds", "linesight-line-quality-rates", "linesight-line-quality"} <= set(loaded)
    assert [r["name"] for g in groups for r in g["rules"] if r.get("health") == "err"] == []
