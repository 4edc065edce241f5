"""The local stack's infrastructure starters, each alone: it starts, answers a real client, keeps its data
across a restart where it should, and stops without leaving a process (or a port) behind."""

from __future__ import annotations

import io
import shutil
import socket
import time
from pathlib import Path

import httpx
import psycopg
import pytest
import redis
import yaml
from minio import Minio
from minio.error import S3Error

from linesight_devstack import PostgresServer, PrometheusServer, RedisServer, S3Server, StartError
from linesight_devstack.ports import port_is_free
from linesight_devstack.process import group_members, pid_alive
from linesight_devstack.prometheus import DEFAULT_SOURCE
from tests.conftest import shared_tmp_dir


@pytest.fixture
def folder():
    path = shared_tmp_dir("linesight-test-devstack-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def assert_gone(server) -> None:
    pid = server.pid
    assert pid is not None
    assert not pid_alive(pid), f"{server.name} (pid {pid}) still runs"
    assert group_members(pid) == [], f"{server.name} left processes in its group: {group_members(pid)}"
    for port in server.ports():
        assert port_is_free(port), f"{server.name} still holds port {port}"


def test_postgres_initdb_once_serves_sql_and_keeps_data_across_restarts(folder):
    server = PostgresServer(folder / "pg", durable=False)
    with server:
        assert server.url.startswith("postgresql+psycopg://linesight@127.0.0.1:")
        with psycopg.connect(server.dsn, autocommit=True) as conn:
            assert conn.execute("SELECT current_database(), current_user").fetchone() == (
                "linesight",
                "linesight",
            )
            conn.execute("CREATE TABLE kept (v text)")
            conn.execute("INSERT INTO kept VALUES ('before restart')")
        # only TCP on 127.0.0.1: no Unix socket is made anywhere
        assert not list((folder / "pg").glob(".s.PGSQL.*"))
    assert_gone(server)

    again = PostgresServer(folder / "pg", port=server.port, durable=False)
    with again:
        with psycopg.connect(again.dsn) as conn:
            assert conn.execute("SELECT v FROM kept").fetchall() == [("before restart",)]
    assert_gone(again)
    assert (folder / "postgres.log").read_text().count("===== initdb") == 1


def test_redis_answers_and_keeps_nothing_on_disk(folder):
    server = RedisServer(folder / "redis")
    with server:
        client = redis.Redis.from_url(server.url)
        assert client.ping() is True
        client.set("k", "v")
        assert client.get("k") == b"v"
        assert client.config_get("save") == {"save": ""}
        assert client.config_get("appendonly") == {"appendonly": "no"}
        client.close()
    assert_gone(server)
    assert not list((folder / "redis").glob("*.rdb")) and not list((folder / "redis").glob("appendonly*"))


def test_s3_roundtrip_needs_the_keys_and_keeps_objects_across_restarts(folder):
    server = S3Server(folder / "s3")
    with server:
        client = Minio(
            server.endpoint, access_key=server.access_key, secret_key=server.secret_key, secure=False
        )
        client.make_bucket("ls-test-images")
        client.put_object("ls-test-images", "a/b.txt", io.BytesIO(b"hello s3"), 8)
        assert client.get_object("ls-test-images", "a/b.txt").read() == b"hello s3"

        assert httpx.get(f"{server.url}/ls-test-images/a/b.txt").status_code == 403  # unsigned
        wrong = Minio(
            server.endpoint, access_key=server.access_key, secret_key="not-the-secret", secure=False
        )
        with pytest.raises(S3Error) as refused:
            wrong.list_buckets()
        assert refused.value.code == "SignatureDoesNotMatch"
    assert_gone(server)

    again = S3Server(
        folder / "s3", port=server.port, access_key=server.access_key, secret_key=server.secret_key
    )
    with again:
        client = Minio(again.endpoint, access_key=again.access_key, secret_key=again.secret_key, secure=False)
        assert client.get_object("ls-test-images", "a/b.txt").read() == b"hello s3"
    assert_gone(again)
    leftovers = [p for port in again.ports() for p in Path("/tmp").glob(f"seaweedfs-*-{port}.sock")]
    assert leftovers == []


def _prometheus_api(server, path):
    resp = httpx.get(f"{server.url}/api/v1/{path}", timeout=5)
    resp.raise_for_status()
    return resp.json()["data"]


def test_prometheus_runs_the_compose_config_rewritten_to_local_targets(folder):
    with socket.socket() as fake:  # something listening, so the rewritten target is a real address
        fake.bind(("127.0.0.1", 0))
        target = f"127.0.0.1:{fake.getsockname()[1]}"
        server = PrometheusServer(folder / "prom", targets={"gateway": target}, scrape_interval="2s")
        with server:
            assert httpx.get(f"{server.url}/-/ready").status_code == 200
            config = yaml.safe_load(server.config_path.read_text())
            jobs = {j["job_name"]: j["static_configs"][0]["targets"] for j in config["scrape_configs"]}
            assert jobs == {"prometheus": [f"127.0.0.1:{server.port}"], "gateway": [target]}
            assert config["global"]["scrape_interval"] == "2s"
            source = yaml.safe_load(DEFAULT_SOURCE.read_text())
            assert config["rule_files"] == source["rule_files"]
            # the copied rule files load: the groups of monitoring/prometheus/rules show up
            groups = {g["name"] for g in _prometheus_api(server, "rules")["groups"]}
            source_groups = {
                g["name"]
                for f in DEFAULT_SOURCE.parent.glob(source["rule_files"][0])
                for g in yaml.safe_load(f.read_text())["groups"]
            }
            assert groups == source_groups
            deadline = time.monotonic() + 30
            while True:
                active = _prometheus_api(server, "targets")["activeTargets"]
                health = {t["labels"]["job"]: t["health"] for t in active}
                if health.get("prometheus") == "up" or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert health["prometheus"] == "up"
            assert set(health) == {"prometheus", "gateway"}
    assert_gone(server)


def test_a_busy_port_is_reported_before_anything_starts(folder):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(StartError, match=f"port\\(s\\) {port} on 127.0.0.1 are already in use"):
            RedisServer(folder / "redis", port=port).start()


def test_a_server_that_exits_at_start_is_reported_with_its_log(folder):
    server = PostgresServer(folder / "pg", durable=False)
    server.prepare()
    (folder / "pg" / "postgresql.auto.conf").write_text("shared_buffers = 'not a size'\n")
    with pytest.raises(StartError) as failed:
        server.start()
    assert "exited with code" in str(failed.value)
    assert "shared_buffers" in failed.value.log_tail
    assert_gone(server)
