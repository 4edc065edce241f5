"""A local Prometheus scraping the local stack: its configuration is the compose one
(monitoring/prometheus/prometheus.yml) with each job's targets rewritten to 127.0.0.1 and the stack's
ports, job names and alert rules kept, so dashboards and rules work on both."""

from __future__ import annotations

import copy
import glob
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import httpx
import yaml

from linesight_devstack.server import LocalServer

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SOURCE = REPO_ROOT / "monitoring" / "prometheus" / "prometheus.yml"

_DURATION = re.compile(r"(\d+)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_seconds(text: str) -> float:
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a Prometheus duration: {text!r}")
    return sum(int(n) * _UNIT_SECONDS[u] for n, u in parts)


def find_prometheus(explicit: str | Path | None = None) -> str:
    found = str(explicit) if explicit else shutil.which("prometheus")
    if not found and Path("/usr/bin/prometheus").is_file():
        found = "/usr/bin/prometheus"
    if not found:
        raise FileNotFoundError(
            "prometheus not found: install it (apt-get install prometheus; bootstrap does)"
        )
    return found


def build_config(
    source: Path | None,
    targets: Mapping[str, str],
    own_target: str,
    scrape_interval: str | None = None,
) -> tuple[dict[str, Any], list[tuple[Path, PurePosixPath]], list[str]]:
    """The local configuration: (config, rule files to copy as (source, path relative to the new config),
    names of source jobs left out because the stack runs nothing for them).

    `targets` maps job names to `host:port`; the `prometheus` job scrapes `own_target`. Without a source
    file the same jobs are generated with the compose defaults."""
    wanted = {"prometheus": own_target, **targets}
    if source is not None and source.is_file():
        config = yaml.safe_load(source.read_text()) or {}
    else:
        source = None
        config = {"global": {"scrape_interval": "15s", "scrape_timeout": "10s", "evaluation_interval": "15s"}}
    config = copy.deepcopy(config)

    jobs: list[dict[str, Any]] = []
    dropped: list[str] = []
    seen: set[str] = set()
    for job in config.get("scrape_configs") or []:
        name = job["job_name"]
        if name not in wanted:
            dropped.append(name)
            continue
        job = {k: v for k, v in job.items() if not k.endswith("_sd_configs")}
        job["static_configs"] = [{"targets": [wanted[name]]}]
        jobs.append(job)
        seen.add(name)
    for name, target in wanted.items():  # a job the source does not know yet still gets scraped
        if name not in seen:
            jobs.append({"job_name": name, "static_configs": [{"targets": [target]}]})
    config["scrape_configs"] = jobs

    if scrape_interval:
        interval = duration_seconds(scrape_interval)
        glob_cfg = config.setdefault("global", {})
        glob_cfg["scrape_interval"] = scrape_interval
        glob_cfg["evaluation_interval"] = scrape_interval
        if duration_seconds(str(glob_cfg.get("scrape_timeout", "10s"))) > interval:
            glob_cfg["scrape_timeout"] = scrape_interval
        for job in jobs:  # a job's own settings win over the global ones; keep them consistent
            job.pop("scrape_interval", None)
            if "scrape_timeout" in job and duration_seconds(str(job["scrape_timeout"])) > interval:
                job["scrape_timeout"] = scrape_interval

    copies: list[tuple[Path, PurePosixPath]] = []
    patterns: list[str] = []
    base = source.parent.resolve() if source is not None else Path()
    for pattern in (config.get("rule_files") or []) if source is not None else []:
        for match in sorted(Path(p).resolve() for p in glob.glob(os.path.join(base, pattern))):
            if match.is_relative_to(base):
                copies.append((match, PurePosixPath(match.relative_to(base).as_posix())))
                kept = pattern
            else:  # outside the source folder: copied beside the others, the pattern follows it
                copies.append((match, PurePosixPath("rules-extra") / match.name))
                kept = "rules-extra/*"
            if kept not in patterns:
                patterns.append(kept)
    if patterns:
        config["rule_files"] = patterns
    else:
        config.pop("rule_files", None)
    return config, copies, dropped


class PrometheusServer(LocalServer):
    """`PrometheusServer(folder, port=..., targets={"gateway": "127.0.0.1:18000", ...})`."""

    name = "prometheus"
    grace = 15.0

    def __init__(
        self,
        data_dir: Path | str,
        *,
        port: int | None = None,
        targets: Mapping[str, str] | None = None,
        source_config: Path | str | None = DEFAULT_SOURCE,
        scrape_interval: str | None = None,
        binary: str | Path | None = None,
        log_path: Path | str | None = None,
        ready_timeout: float | None = None,
    ) -> None:
        super().__init__(data_dir, port=port, log_path=log_path, ready_timeout=ready_timeout)
        self.targets = dict(targets or {})
        self.source_config = Path(source_config) if source_config else None
        self.scrape_interval = scrape_interval
        self.binary = find_prometheus(binary)
        self.config_path = self.data_dir / "prometheus.yml"
        self.dropped_jobs: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def prepare(self) -> None:
        super().prepare()
        config, copies, self.dropped_jobs = build_config(
            self.source_config, self.targets, f"127.0.0.1:{self.port}", self.scrape_interval
        )
        for src, rel in copies:
            dest = self.data_dir / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
        header = (
            "# Generated by linesight_devstack from "
            f"{self.source_config if self.source_config and self.source_config.is_file() else 'its job table'};"
            " rewritten at every start.\n"
        )
        self.config_path.write_text(header + yaml.safe_dump(config, sort_keys=False))

    def command(self) -> list[str]:
        return [
            self.binary,
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.data_dir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--storage.tsdb.retention.time=15d",
            "--web.enable-lifecycle",
        ]

    def probe(self) -> None:
        resp = httpx.get(f"{self.url}/-/ready", timeout=2.0)
        if resp.status_code != 200:
            raise RuntimeError(f"/-/ready answered {resp.status_code}")
