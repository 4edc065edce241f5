"""Monitoring as shipped: Prometheus accepts the config and the alert rules, the alerts fire when a
service is down, erroring or slow (and not on probe traffic), the Grafana dashboard asks valid PromQL of
the provisioned datasource for every scraped service, and the provisioning points where compose mounts.

Uses the real promtool (installed by scripts/bootstrap.sh with the prometheus package); no server runs."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
MONITORING = REPO / "monitoring"
PROMETHEUS_CONFIG = MONITORING / "prometheus" / "prometheus.yml"
RULES_DIR = MONITORING / "prometheus" / "rules"
DASHBOARDS_DIR = MONITORING / "grafana" / "dashboards"
DASHBOARD = DASHBOARDS_DIR / "linesight-services.json"
DATASOURCES = MONITORING / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
DASHBOARD_PROVIDERS = MONITORING / "grafana" / "provisioning" / "dashboards" / "linesight.yml"
COMPOSE_FILE = REPO / "docker-compose.yml"

# docs/architecture.md, "Prometheus jobs": one job per service, named as the compose service.
SERVICE_JOBS = {"gateway", "inference", "ocr-service", "registry", "training-worker", "ui"}
HTTP_METRICS = ("linesight_http_requests_total", "linesight_http_request_duration_seconds_bucket")


def load_yaml(path: Path) -> dict:
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool") or ("/usr/bin/promtool" if Path("/usr/bin/promtool").exists() else None)
    if path is None:
        pytest.fail(
            "promtool is not installed; scripts/bootstrap.sh installs it with the `prometheus` package "
            "(apt-get install prometheus)"
        )
    return path


def run_promtool(promtool: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool, *map(str, args)], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture(scope="module")
def prometheus_config() -> dict:
    return load_yaml(PROMETHEUS_CONFIG)


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_yaml(COMPOSE_FILE)


def rule_files() -> list[Path]:
    return sorted(RULES_DIR.glob("*.yml"))


def panels(dashboard: dict) -> list[dict]:
    """Every panel, rows' nested panels included."""
    out = []
    for panel in dashboard["panels"]:
        out.append(panel)
        out.extend(panel.get("panels") or [])
    return out


def grafana_to_promql(expr: str) -> str:
    """A dashboard expression as Prometheus would receive it for one concrete selection."""
    return (
        expr.replace("$__rate_interval", "1m")
        .replace("$__interval", "15s")
        .replace("$__range", "1h")
        .replace('"$job"', '"gateway|inference"')
        .replace("$job", "gateway")
    )


# --- Prometheus -------------------------------------------------------------------------------------


def test_prometheus_config_is_valid(promtool):
    result = run_promtool(promtool, "check", "config", PROMETHEUS_CONFIG)
    assert result.returncode == 0, f"promtool check config failed:\n{result.stdout}{result.stderr}"
    # promtool resolves rule_files relative to the config file, as Prometheus does in the container
    found = re.search(r"SUCCESS: (\d+) rule files found", result.stdout + result.stderr)
    assert found and int(found.group(1)) == len(rule_files()) >= 1, result.stdout + result.stderr


def test_alert_rules_are_valid(promtool):
    assert rule_files(), f"no rule files in {RULES_DIR}"
    result = run_promtool(promtool, "check", "rules", *rule_files())
    assert result.returncode == 0, f"promtool check rules failed:\n{result.stdout}{result.stderr}"


def test_scrape_jobs_are_the_compose_services(prometheus_config, compose):
    assert prometheus_config["global"]["scrape_interval"] == "15s"
    jobs = {}
    for job in prometheus_config["scrape_configs"]:
        targets = [t for sc in job.get("static_configs", []) for t in sc["targets"]]
        jobs[job["job_name"]] = targets
    assert set(jobs) == SERVICE_JOBS | {"prometheus"}, f"scrape jobs {sorted(jobs)}"
    assert jobs["prometheus"] == ["localhost:9090"]
    for job in SERVICE_JOBS:
        service = compose["services"].get(job)
        assert service is not None, f"job {job}: no compose service of that name"
        env = service["environment"]
        # the metrics port: the app's own port, or the ops server's where the app is not FastAPI (ui)
        port = env.get("LINESIGHT_OPS_PORT", env["LINESIGHT_PORT"])
        assert jobs[job] == [f"{job}:{port}"], f"job {job}: targets {jobs[job]}, expected ['{job}:{port}']"


def test_compose_mounts_the_config_and_rules_prometheus_reads(compose, prometheus_config):
    mounts = {m.split(":")[1]: m.split(":")[0] for m in compose["services"]["prometheus"]["volumes"]}
    assert mounts["/etc/prometheus/prometheus.yml"] == "./monitoring/prometheus/prometheus.yml"
    for pattern in prometheus_config["rule_files"]:
        mount_dir = "/etc/prometheus/" + pattern.split("/")[0]
        assert mounts.get(mount_dir) == "./monitoring/prometheus/" + pattern.split("/")[0], (
            f"rule_files entry {pattern} is not mounted at {mount_dir}"
        )


def _render(template: str, labels: dict[str, str]) -> str:
    return re.sub(r"\{\{\s*\$labels\.(\w+)\s*\}\}", lambda m: labels[m.group(1)], template)


def _expected_alert(rules: dict[str, dict], name: str, labels: dict[str, str]) -> dict:
    rule = rules[name]
    return {
        "exp_labels": {**rule.get("labels", {}), **labels},
        "exp_annotations": {k: _render(v, labels) for k, v in rule.get("annotations", {}).items()},
    }


def test_alerts_fire_on_down_erroring_and_slow_services_only(promtool, tmp_path):
    rules = {
        rule["alert"]: rule
        for path in rule_files()
        for group in load_yaml(path)["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    assert {"LineSightServiceDown", "LineSightHighErrorRatio", "LineSightHighLatencyP95"} <= set(rules)
    ok = {"method": "POST", "route": "/api/v1/inspections"}

    def series(metric: str, labels: dict[str, str], values: str) -> dict:
        body = ", ".join(f'{k}="{v}"' for k, v in labels.items())
        return {"series": f"{metric}{{{body}}}", "values": values}

    def buckets(job: str, counts_per_minute: dict[str, int]) -> list[dict]:
        return [
            series(
                "linesight_http_request_duration_seconds_bucket",
                {"job": job, **ok, "le": le},
                f"0+{per_minute}x30",
            )
            for le, per_minute in counts_per_minute.items()
        ]

    input_series = [
        # inference stops answering scrapes after 2 minutes; gateway stays up
        series("up", {"job": "inference", "instance": "inference:8001"}, "1 1 0x20"),
        series("up", {"job": "gateway", "instance": "gateway:8000"}, "1x22"),
        # registry: 60 good and 10 failing requests a minute (14% errors)
        series("linesight_http_requests_total", {"job": "registry", **ok, "status": "200"}, "0+60x30"),
        series("linesight_http_requests_total", {"job": "registry", **ok, "status": "500"}, "0+10x30"),
        # gateway: all real requests succeed; its /ready answers 503 a lot, which is probe traffic
        series("linesight_http_requests_total", {"job": "gateway", **ok, "status": "201"}, "0+60x30"),
        series(
            "linesight_http_requests_total",
            {"job": "gateway", "method": "GET", "route": "/ready", "status": "503"},
            "0+30x30",
        ),
        # ocr-service answers everything in 2.5..5 s; gateway in under 0.1 s
        *buckets("ocr-service", {"0.1": 0, "1": 0, "2.5": 0, "5": 30, "+Inf": 30}),
        *buckets("gateway", {"0.1": 60, "1": 60, "2.5": 60, "5": 60, "+Inf": 60}),
    ]
    test_file = tmp_path / "alerts_test.yml"
    test_file.write_text(
        yaml.safe_dump(
            {
                "rule_files": [str(p) for p in rule_files()],
                "evaluation_interval": "1m",
                "tests": [
                    {
                        "interval": "1m",
                        "input_series": input_series,
                        "alert_rule_test": [
                            # down for 1 minute: pending, not firing yet
                            {"eval_time": "3m", "alertname": "LineSightServiceDown", "exp_alerts": []},
                            {
                                "eval_time": "6m",
                                "alertname": "LineSightServiceDown",
                                "exp_alerts": [
                                    _expected_alert(
                                        rules,
                                        "LineSightServiceDown",
                                        {"job": "inference", "instance": "inference:8001"},
                                    )
                                ],
                            },
                            {
                                "eval_time": "20m",
                                "alertname": "LineSightHighErrorRatio",
                                "exp_alerts": [
                                    _expected_alert(rules, "LineSightHighErrorRatio", {"job": "registry"})
                                ],
                            },
                            {
                                "eval_time": "20m",
                                "alertname": "LineSightHighLatencyP95",
                                "exp_alerts": [
                                    _expected_alert(rules, "LineSightHighLatencyP95", {"job": "ocr-service"})
                                ],
                            },
                        ],
                    }
                ],
            },
            sort_keys=False,
        )
    )
    result = run_promtool(promtool, "test", "rules", test_file)
    assert result.returncode == 0, f"promtool test rules failed:\n{result.stdout}{result.stderr}"


# --- Grafana ----------------------------------------------------------------------------------------


def test_dashboard_is_a_provisionable_grafana_dashboard(dashboard):
    assert dashboard["title"] == "LineSight — services"
    assert dashboard["uid"] and len(dashboard["uid"]) <= 40
    assert dashboard["schemaVersion"] >= 36
    assert dashboard.get("id") is None, "a provisioned dashboard must not carry a database id"
    ids = [p["id"] for p in panels(dashboard)]
    assert len(ids) == len(set(ids)), f"panel ids repeat: {ids}"
    for panel in panels(dashboard):
        grid = panel["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24, f"panel {panel['title']!r} leaves the grid"


def test_every_panel_queries_the_provisioned_prometheus(dashboard):
    uid = load_yaml(DATASOURCES)["datasources"][0]["uid"]
    for panel in panels(dashboard):
        if panel["type"] == "row":
            continue
        title = panel["title"]
        assert panel.get("datasource", {}).get("uid") == uid, f"panel {title!r}: datasource is not {uid!r}"
        targets = panel.get("targets") or []
        assert targets, f"panel {title!r} has no query"
        for target in targets:
            assert target.get("expr", "").strip(), (
                f"panel {title!r}: target {target.get('refId')} has no expr"
            )
            assert target.get("datasource", {}).get("uid") == uid, f"panel {title!r}: target datasource"
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            assert variable["datasource"]["uid"] == uid, f"variable {variable['name']}: datasource"


def test_dashboard_shows_up_traffic_errors_and_p95_latency_per_job(dashboard):
    exprs = [t["expr"] for p in panels(dashboard) if p["type"] != "row" for t in p["targets"]]
    for expr in exprs:
        assert 'job=~"$job"' in expr, f"query does not follow the job selection: {expr}"
    assert any(e.startswith("up{") for e in exprs), "no up panel"
    assert any("linesight_http_requests_total" in e and 'status=~"5.."' in e and "/" in e for e in exprs), (
        "no error-rate (5xx / all) query"
    )
    assert any(
        "histogram_quantile(0.95" in e
        and "linesight_http_request_duration_seconds_bucket" in e
        and re.search(r"by \(job, le\)", e)
        for e in exprs
    ), "no p95 latency by job"
    for metric in HTTP_METRICS:
        assert any(metric in e for e in exprs), f"the dashboard never reads {metric}"


def _matches(matcher: tuple[str, str, str], labels: dict[str, str]) -> bool:
    name, op, value = matcher
    actual = labels.get(name, "")
    if op == "=":
        return actual == value
    if op == "!=":
        return actual != value
    full = re.fullmatch(value, actual) is not None
    return full if op == "=~" else not full


def test_job_variable_offers_every_scraped_service(dashboard, prometheus_config):
    """The job variable lists the job label of a series every scrape job has (`up`), filtered by matchers
    that keep every service job: a service added to prometheus.yml shows up on the dashboard."""
    variable = next(v for v in dashboard["templating"]["list"] if v["name"] == "job")
    assert variable["includeAll"] and variable["multi"]
    query = variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
    parsed = re.fullmatch(r"label_values\((\w+)(?:\{(.*)\})?,\s*job\)", query.strip())
    assert parsed and parsed.group(1) == "up", f"job variable should read label_values(up..., job): {query}"
    matchers = re.findall(r'(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"', parsed.group(2) or "")
    for job in (j["job_name"] for j in prometheus_config["scrape_configs"]):
        shown = all(_matches(m, {"job": job}) for m in matchers)
        assert shown == (job in SERVICE_JOBS), f"job {job}: shown={shown} by {query}"
    repeated = [p for p in dashboard["panels"] if p.get("repeat") == "job"]
    assert repeated, "no row or panel repeats per job"


def test_dashboard_queries_are_valid_promql(dashboard, promtool, tmp_path):
    """promtool parses every dashboard expression (as recording rules, so no server is needed)."""
    rules = []
    for panel in panels(dashboard):
        for target in panel.get("targets") or []:
            record = f"dashboard:panel{panel['id']}_{target['refId'].lower()}:check"
            rules.append({"record": record, "expr": grafana_to_promql(target["expr"])})
    for variable in dashboard["templating"]["list"]:
        query = variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
        selector = re.fullmatch(r"label_values\((.*),\s*\w+\)", query.strip())
        if selector:
            rules.append(
                {"record": f"dashboard:variable_{variable['name']}:check", "expr": selector.group(1)}
            )
    path = tmp_path / "dashboard_queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = run_promtool(promtool, "check", "rules", path)
    assert result.returncode == 0, f"a dashboard query is not valid PromQL:\n{result.stdout}{result.stderr}"


def test_grafana_provisioning_points_at_compose_prometheus_and_the_mounted_dashboards(compose, dashboard):
    datasources = load_yaml(DATASOURCES)
    assert datasources["apiVersion"] == 1
    (source,) = datasources["datasources"]
    assert source["type"] == "prometheus"
    assert source["uid"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    assert "prometheus" in compose["services"]
    used = {p["datasource"]["uid"] for p in panels(dashboard) if p["type"] != "row"}
    assert used == {source["uid"]}

    providers = load_yaml(DASHBOARD_PROVIDERS)
    assert providers["apiVersion"] == 1
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    grafana_mounts = {
        m.split(":")[0]: m.split(":")[1]
        for m in compose["services"]["grafana"]["volumes"]
        if m.startswith(".")
    }
    assert grafana_mounts["./monitoring/grafana/provisioning"] == "/etc/grafana/provisioning"
    dashboards_at = grafana_mounts["./monitoring/grafana/dashboards"]
    assert provider["options"]["path"] == dashboards_at, (
        f"the provider reads {provider['options']['path']}, compose mounts the dashboards at {dashboards_at}"
    )
    home = compose["services"]["grafana"]["environment"].get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
    if home:
        assert home.startswith(dashboards_at + "/")
        assert (DASHBOARDS_DIR / home.removeprefix(dashboards_at + "/")).is_file(), f"{home} is not shipped"
