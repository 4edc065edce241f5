"""docker-compose.yml's least-privilege rules, on every service, present and future: no capabilities
(only named ones added back), no privilege gain, a read-only root, memory and process limits, published
ports bound to an address from .env, Redis behind a password, one S3 user per service with only the
buckets its code uses, and TLS through the `tls` profile.

As in test_compose.py, each rule is a function returning what breaks it, read from the files as data
(no Docker engine), and the tests below break the real file to show that each rule catches it."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.unit.test_compose import COMPOSE_FILE, REPO, SECRETS, load_yaml, variable_refs

pytestmark = pytest.mark.unit

MINIO_INIT = REPO / "deploy" / "minio" / "init.sh"
CADDYFILE = REPO / "deploy" / "caddy" / "Caddyfile"

# Capabilities a service may add back after cap_drop ALL, and why it needs each.
CAPABILITIES: dict[str, dict[str, str]] = {
    "minio-volume-init": {
        "CHOWN": "hands the MinIO volume to MinIO's user",
        "DAC_READ_SEARCH": "walks folders it has just given away",
    },
    "caddy": {"NET_BIND_SERVICE": "binds 443; the image's binary carries this file capability"},
}
# Containers that run as uid 0 (with no capability beyond the ones above).
ROOT_USERS = {"minio-volume-init", "caddy"}
# Upstream images started directly as their unprivileged user, so their entrypoints need no capability.
IMAGE_USERS = {"postgres": "70:70", "redis": "999:1000", "minio": "10002:10002", "minio-init": "10002:10002"}
# Services allowed a writable root file system, with the reason. None needs one.
WRITABLE_ROOT: dict[str, str] = {}
MAX_PIDS = 4096
ROOT_CREDENTIALS = {"MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"}
S3_ROOT_HOLDERS = {"minio", "minio-init"}
# The service folders whose code opens the S3 store, by compose service.
S3_CODE = {
    "gateway": "gateway/linesight_gateway",
    "registry": "registry/linesight_registry",
    "inference": "inference/linesight_inference",
    "training-worker": "training-worker/linesight_training",
}


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_yaml(COMPOSE_FILE)


def _environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {str(k): str(v) for k, v in env.items()}


def _default(value: object) -> str:
    """The value compose uses when .env leaves a ${NAME:-default} unset."""
    text = str(value)
    match = re.fullmatch(r"\$\{[A-Z0-9_]+:-([^}]*)\}", text)
    return match.group(1) if match else text


def _bytes(size: str) -> int | None:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kmg]?)b?", size.strip().lower())
    if not match:
        return None
    return int(float(match.group(1)) * 1024 ** " kmg".index(match.group(2) or " "))


def _mounts(service: dict) -> list[tuple[str, str, str, bool]]:
    """(kind, source, target, read_only) of each volume entry."""
    out = []
    for mount in service.get("volumes") or []:
        if isinstance(mount, str):
            parts = mount.split(":")
            source, target = parts[0], parts[1] if len(parts) > 1 else parts[0]
            kind = "bind" if source.startswith((".", "/", "~", "$")) else "volume"
            out.append((kind, source, target, len(parts) > 2 and "ro" in parts[2].split(",")))
        else:
            out.append(
                (
                    mount.get("type", ""),
                    mount.get("source", ""),
                    mount.get("target", ""),
                    bool(mount.get("read_only")),
                )
            )
    return out


# --- rules -------------------------------------------------------------------------------------------


def hardening_violations(doc: dict) -> list[str]:
    problems = []
    for name, service in doc.get("services", {}).items():
        if "ALL" not in (service.get("cap_drop") or []):
            problems.append(f"service {name}: no cap_drop: [ALL]")
        extra = set(service.get("cap_add") or []) - set(CAPABILITIES.get(name, {}))
        if extra:
            problems.append(f"service {name}: cap_add {sorted(extra)} is not among the documented ones")
        options = [str(o).replace("=", ":") for o in service.get("security_opt") or []]
        if not {"no-new-privileges:true", "no-new-privileges"} & set(options):
            problems.append(f"service {name}: security_opt lacks no-new-privileges:true")
        if service.get("read_only") is not True and name not in WRITABLE_ROOT:
            problems.append(
                f"service {name}: read_only is not true (writable folders go on tmpfs or volumes)"
            )
        if service.get("privileged"):
            problems.append(f"service {name}: privileged")
        for key in ("pid", "ipc", "network_mode", "userns_mode", "cgroup", "uts"):
            if service.get(key) == "host":
                problems.append(f"service {name}: {key}: host shares the host's namespace")
        for kind, source, target, read_only in _mounts(service):
            if kind == "bind" and "docker.sock" in source:
                problems.append(f"service {name}: mounts the Docker socket ({source})")
            elif kind == "bind" and not read_only:
                problems.append(f"service {name}: bind mount {source} -> {target} is not read-only")
        user = str(service.get("user", ""))
        if user.split(":")[0] in {"0", "root"} and name not in ROOT_USERS:
            problems.append(f"service {name}: runs as root (user {user!r})")
        if name in IMAGE_USERS and user != IMAGE_USERS[name]:
            problems.append(f"service {name}: user {user!r}, expected {IMAGE_USERS[name]!r}")
    return problems


def limit_violations(doc: dict) -> list[str]:
    problems = []
    for name, service in doc.get("services", {}).items():
        memory = service.get("mem_limit")
        size = _bytes(_default(memory)) if memory is not None else None
        if not size:
            problems.append(f"service {name}: no mem_limit (or one compose cannot read: {memory!r})")
        pids = service.get("pids_limit")
        if not isinstance(pids, int) or isinstance(pids, bool) or not 0 < pids <= MAX_PIDS:
            problems.append(f"service {name}: pids_limit {pids!r}, expected 1..{MAX_PIDS}")
    return problems


_REDIS_URL = re.compile(r"redis://(?P<userinfo>[^@/]*@)?")
_REDIS_PASSWORD = re.compile(r"\$\{REDIS_PASSWORD:\?[^}]*\}")


def redis_auth_violations(doc: dict) -> list[str]:
    services = doc.get("services", {})
    problems = []
    redis = services.get("redis") or {}
    command = [str(c) for c in redis.get("command") or []]
    at = command.index("--requirepass") if "--requirepass" in command else -1
    if at < 0 or at + 1 >= len(command) or not _REDIS_PASSWORD.fullmatch(command[at + 1]):
        problems.append("service redis: command lacks --requirepass ${REDIS_PASSWORD:?...}")
    if not _REDIS_PASSWORD.fullmatch(_environment(redis).get("REDISCLI_AUTH", "")):
        problems.append("service redis: the healthcheck's redis-cli has no password (REDISCLI_AUTH)")
    for name, service in services.items():
        for key, value in _environment(service).items():
            for match in _REDIS_URL.finditer(value):
                userinfo = match.group("userinfo") or ""
                if not _REDIS_PASSWORD.fullmatch(userinfo.removeprefix(":").removesuffix("@")):
                    problems.append(f"service {name}: {key} reaches Redis without ${{REDIS_PASSWORD}}")
    return problems


def init_script_users(text: str) -> dict[str, tuple[str, dict[str, str]]]:
    """deploy/minio/init.sh's table: user -> (secret variable, {bucket purpose: 'rw' | 'ro'})."""
    users = {}
    for match in re.finditer(r'^service_user (\S+) "\$(\w+)" (.+)$', text, re.MULTILINE):
        grants = dict(reversed(g.split(":", 1)) for g in match.group(3).split())
        users[match.group(1)] = (match.group(2), grants)
    return users


def s3_violations(doc: dict, script: str) -> list[str]:
    services = doc.get("services", {})
    users = init_script_users(script)
    problems = []
    keys: dict[str, str] = {}
    secrets: dict[str, str] = {}
    for name, service in services.items():
        held = {ref.name for ref in variable_refs(service)} & ROOT_CREDENTIALS
        if held and name not in S3_ROOT_HOLDERS:
            problems.append(f"service {name}: sees the MinIO root credentials {sorted(held)}")
        env = _environment(service)
        if "LINESIGHT_S3_ENDPOINT" not in env:
            continue
        key = env.get("LINESIGHT_S3_ACCESS_KEY", "")
        secret = re.fullmatch(r"\$\{(S3_[A-Z]+_SECRET_KEY):\?[^}]*\}", env.get("LINESIGHT_S3_SECRET_KEY", ""))
        if not key or "$" in key:
            problems.append(f"service {name}: LINESIGHT_S3_ACCESS_KEY must name its own MinIO user")
        elif key in keys:
            problems.append(f"service {name}: shares the S3 user {key} with {keys[key]}")
        keys[key] = name
        if not secret or secret.group(1) not in SECRETS:
            problems.append(
                f"service {name}: LINESIGHT_S3_SECRET_KEY must be its own ${{S3_<NAME>_SECRET_KEY:?...}}"
            )
        else:
            if secret.group(1) in secrets:
                problems.append(f"service {name}: shares {secret.group(1)} with {secrets[secret.group(1)]}")
            secrets[secret.group(1)] = name
            if users.get(key, ("",))[0] != secret.group(1):
                problems.append(
                    f"service {name}: minio-init does not make user {key} with ${secret.group(1)}"
                )
        condition = ((service.get("depends_on") or {}).get("minio-init") or {}).get("condition")
        if condition != "service_completed_successfully":
            problems.append(
                f"service {name}: does not wait for minio-init to complete (its user may not exist)"
            )
    for user in sorted(set(users) - set(keys)):
        problems.append(f"minio-init makes user {user}, which no service uses")
    init_env = _environment(services.get("minio-init") or {})
    for user, (variable, _) in users.items():
        if not init_env.get(variable, "").startswith(f"${{{variable}:?"):
            problems.append(f"service minio-init: does not receive ${variable} (user {user})")
    return problems


def code_buckets(folder: str) -> tuple[set[str], bool]:
    """The bucket purposes a service's code opens, and whether it ever writes or deletes an object."""
    purposes: set[str] = set()
    writes = False
    for path in (REPO / folder).rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        purposes |= set(re.findall(r"""\.bucket\(["'](\w+)["']\)""", text))
        for listed in re.findall(r"^BUCKETS\s*=\s*\(([^)]*)\)", text, re.MULTILINE):
            purposes |= set(re.findall(r"""["'](\w+)["']""", listed))
        writes |= bool(re.search(r"\.(put_stream|put_bytes|put_content_addressed|delete)\(", text))
    return purposes, writes


# --- the real files pass -----------------------------------------------------------------------------


def test_every_service_drops_capabilities_and_privileges_and_has_a_read_only_root(compose):
    problems = hardening_violations(compose)
    assert not problems, "\n".join(problems)


def test_every_service_has_a_memory_and_a_process_limit(compose):
    problems = limit_violations(compose)
    assert not problems, "\n".join(problems)


def test_redis_refuses_clients_without_the_password_and_every_url_carries_it(compose):
    problems = redis_auth_violations(compose)
    assert not problems, "\n".join(problems)
    assert "REDIS_PASSWORD" in SECRETS


def test_each_service_has_its_own_s3_user_and_no_service_sees_the_root_keys(compose):
    problems = s3_violations(compose, MINIO_INIT.read_text(encoding="utf-8"))
    assert not problems, "\n".join(problems)


def test_each_s3_user_gets_exactly_the_buckets_its_code_uses(compose):
    users = init_script_users(MINIO_INIT.read_text(encoding="utf-8"))
    for service, folder in S3_CODE.items():
        key = _environment(compose["services"][service])["LINESIGHT_S3_ACCESS_KEY"]
        purposes, writes = code_buckets(folder)
        assert purposes, f"{folder}: found no bucket in the code; the scan is broken"
        expected = {purpose: "rw" if writes else "ro" for purpose in purposes}
        assert users[key][1] == expected, f"{service} ({key}): policy {users[key][1]}, code needs {expected}"
    opened = set().union(*(code_buckets(folder)[0] for folder in S3_CODE))
    created = set(re.search(r"for purpose in ([\w ]+); do", MINIO_INIT.read_text()).group(1).split())
    assert created == opened, f"minio-init creates {sorted(created)}, the code opens {sorted(opened)}"


def test_minio_does_not_run_as_root_and_its_volume_is_handed_to_it(compose):
    services = compose["services"]
    assert services["minio"]["user"] == "10002:10002"
    volume_init = services["minio-volume-init"]
    assert "minio-data:/data" in volume_init["volumes"]
    assert "10002:10002" in " ".join(volume_init["command"])
    assert (
        services["minio"]["depends_on"]["minio-volume-init"]["condition"] == "service_completed_successfully"
    )
    # without nocopy, Docker hands an empty volume back to the owner of the image's /data (root)
    (data,) = [m for m in services["minio"]["volumes"] if isinstance(m, dict) and m["target"] == "/data"]
    assert data["source"] == "minio-data" and data["volume"]["nocopy"] is True


def test_grafana_admin_password_comes_from_env_without_default(compose):
    password = _environment(compose["services"]["grafana"])["GF_SECURITY_ADMIN_PASSWORD"]
    assert password.startswith("${GRAFANA_ADMIN_PASSWORD:?")


def test_tls_profile_puts_caddy_in_front_of_gateway_ui_and_grafana(compose):
    caddy = compose["services"]["caddy"]
    assert caddy["profiles"] == ["tls"]
    assert caddy["networks"] == ["frontend"], "the proxy must not join the internal back end"
    text = CADDYFILE.read_text(encoding="utf-8")
    sites = dict(re.findall(r"^\{\$LINESIGHT_TLS_HOST\}:(\d+) \{\n(.*?)^\}", text, re.MULTILINE | re.DOTALL))
    upstreams = {
        int(port): re.search(r"^\s*reverse_proxy (\S+)$", body, re.MULTILINE).group(1)
        for port, body in sites.items()
    }
    assert upstreams == {443: "ui:8501", 8443: "gateway:8000", 3443: "grafana:3000"}
    assert all("import linesight_tls" in body for body in sites.values())
    assert "tls {$LINESIGHT_TLS_CERTIFICATES}" in text
    published = {int(p.rsplit(":", 1)[1]) for p in caddy["ports"]}
    assert published == set(upstreams)
    volumes = {target: source for _, source, target, _ in _mounts(caddy)}
    assert volumes["/etc/caddy/Caddyfile"] == "./deploy/caddy/Caddyfile"


# --- the rules catch what they are meant to catch ---------------------------------------------------


def _broken(compose: dict, edit) -> dict:
    doc = copy.deepcopy(compose)
    edit(doc)
    return doc


def _check(rule, doc: dict) -> list[str]:
    if rule is s3_violations:
        return s3_violations(doc, MINIO_INIT.read_text(encoding="utf-8"))
    return rule(doc)


BREAKS = {
    "cap-drop-removed": (hardening_violations, lambda d: d["services"]["gateway"].pop("cap_drop"), "gateway"),
    "cap-added": (
        hardening_violations,
        lambda d: d["services"]["postgres"].update(cap_add=["SYS_ADMIN"]),
        "postgres: cap_add",
    ),
    "new-privileges": (hardening_violations, lambda d: d["services"]["ui"].pop("security_opt"), "ui"),
    "writable-root": (
        hardening_violations,
        lambda d: d["services"]["registry"].update(read_only=False),
        "registry",
    ),
    "redis-as-root": (hardening_violations, lambda d: d["services"]["redis"].update(user="0"), "redis"),
    "docker-socket": (
        hardening_violations,
        lambda d: d["services"]["grafana"]["volumes"].append("/var/run/docker.sock:/var/run/docker.sock"),
        "Docker socket",
    ),
    "no-mem-limit": (
        limit_violations,
        lambda d: d["services"]["training-worker"].pop("mem_limit"),
        "training",
    ),
    "unlimited-pids": (
        limit_violations,
        lambda d: d["services"]["inference"].update(pids_limit=-1),
        "inference",
    ),
    "no-requirepass": (
        redis_auth_violations,
        lambda d: d["services"]["redis"].update(command=["redis-server"]),
        "redis",
    ),
    "url-without-password": (
        redis_auth_violations,
        lambda d: d["services"]["registry"]["environment"].update(
            LINESIGHT_CELERY_BROKER_URL="redis://redis:6379/0"
        ),
        "registry: LINESIGHT_CELERY_BROKER_URL",
    ),
    "root-keys-in-gateway": (
        s3_violations,
        lambda d: d["services"]["gateway"]["environment"].update(
            LINESIGHT_S3_SECRET_KEY="${MINIO_ROOT_PASSWORD:?x}"
        ),
        "gateway: sees the MinIO root credentials",
    ),
    "shared-s3-user": (
        s3_violations,
        lambda d: d["services"]["inference"]["environment"].update(
            LINESIGHT_S3_ACCESS_KEY="linesight-registry"
        ),
        "shares the S3 user",
    ),
    "no-wait-for-minio-init": (
        s3_violations,
        lambda d: d["services"]["training-worker"]["depends_on"].pop("minio-init"),
        "training-worker: does not wait for minio-init",
    ),
}


@pytest.mark.parametrize(("rule", "edit", "expected"), list(BREAKS.values()), ids=list(BREAKS))
def test_rule_reports_a_broken_compose_file(compose, rule, edit, expected):
    assert not _check(rule, compose), "the real file should pass before it is broken"
    problems = _check(rule, _broken(compose, edit))
    assert any(expected in p for p in problems), problems


def test_a_new_service_without_hardening_limits_or_bound_ports_fails(compose):
    from tests.unit.test_compose import port_violations

    doc = _broken(
        compose,
        lambda d: d["services"].update(
            newcomer={"image": "nginx:1.27.0", "ports": ["8080:80"], "networks": ["backend"]}
        ),
    )
    for rule in (hardening_violations, limit_violations, port_violations):
        problems = rule(doc)
        assert any("service newcomer" in p for p in problems), (rule.__name__, problems)
    assert any("not bound to an address from .env" in p for p in port_violations(doc))


def test_a_sandbox_service_without_network_or_secrets_passes(compose):
    """The shape of the checkpoint converter: no network, read-only, no capabilities, limits, a tmpfs."""
    from tests.unit.test_compose import network_violations, port_violations

    sandbox = {
        "build": {"context": ".", "dockerfile": "deploy/service.Dockerfile"},
        "network_mode": "none",
        "read_only": True,
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges:true"],
        "mem_limit": "4g",
        "pids_limit": 128,
        "tmpfs": ["/tmp:size=1g"],
        "volumes": ["training-work:/var/lib/linesight/training"],
    }
    doc = _broken(compose, lambda d: d["services"].update(converter=sandbox))
    rules = (
        hardening_violations,
        limit_violations,
        port_violations,
        network_violations,
        redis_auth_violations,
    )
    for rule in rules:
        assert not rule(doc), (rule.__name__, rule(doc))
    assert not s3_violations(doc, MINIO_INIT.read_text(encoding="utf-8"))


# --- minio-init, run against a stand-in for mc ------------------------------------------------------

FAKE_MC = """#!/bin/sh
# Records each call; `admin policy create` keeps the policy file; `admin user info` answers as mc does.
printf '%s\\n' "$*" >> "$MC_LOG/calls"
if [ "$1 $2 $3" = "admin policy create" ]; then cp "$6" "$MC_LOG/$5.json"; fi
if [ "$1 $2 $3" = "admin user info" ]; then
  printf '{\\n "status": "success",\\n "accessKey": "%s",\\n "policyName": "%s"\\n}\\n' "$5" "${FAKE_POLICY:-$5}"
fi
"""


def _run_init(tmp_path: Path, **extra: str) -> subprocess.CompletedProcess:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "mc").write_text(FAKE_MC)
    (bin_dir / "mc").chmod(0o755)
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "MC_LOG": str(tmp_path),
        "MC_HOST_store": "http://root:rootpassword@minio:9000",
        "LINESIGHT_S3_BUCKET_PREFIX": "plant7",
        "S3_GATEWAY_SECRET_KEY": "gateway-secret",
        "S3_REGISTRY_SECRET_KEY": "registry-secret",
        "S3_INFERENCE_SECRET_KEY": "inference-secret",
        "S3_TRAINING_SECRET_KEY": "training-secret",
        **extra,
    }
    return subprocess.run(["sh", str(MINIO_INIT)], env=env, capture_output=True, text=True, timeout=60)


def test_minio_init_creates_buckets_and_policies_limited_to_each_services_buckets(tmp_path):
    result = _run_init(tmp_path)
    assert result.returncode == 0, result.stderr
    calls = (tmp_path / "calls").read_text().splitlines()
    for purpose in ("images", "models", "datasets"):
        assert f"mb --ignore-existing store/plant7-{purpose}" in calls
    assert "admin user add store linesight-inference inference-secret" in calls
    assert not any("rootpassword" in call for call in calls), "the root password must stay in the environment"

    def grants(user: str) -> dict[str, set[str]]:
        policy = json.loads((tmp_path / f"{user}.json").read_text())
        out: dict[str, set[str]] = {}
        for statement in policy["Statement"]:
            assert statement["Effect"] == "Allow"
            for resource in statement["Resource"]:
                out.setdefault(resource.removeprefix("arn:aws:s3:::"), set()).update(statement["Action"])
        return out

    inference = grants("linesight-inference")
    assert set(inference) == {"plant7-models", "plant7-models/*"}
    assert inference["plant7-models/*"] == {"s3:GetObject"}, "inference only reads models"
    gateway = grants("linesight-gateway")
    assert set(gateway) == {"plant7-images", "plant7-images/*"}
    assert {"s3:PutObject", "s3:DeleteObject"} <= gateway["plant7-images/*"]
    assert set(grants("linesight-registry")) == {
        "plant7-models",
        "plant7-models/*",
        "plant7-datasets",
        "plant7-datasets/*",
    }
    assert set(grants("linesight-training")) == {"plant7-models", "plant7-models/*"}


def test_minio_init_fails_when_a_policy_did_not_reach_its_user(tmp_path):
    result = _run_init(tmp_path, FAKE_POLICY="readwrite")
    assert result.returncode != 0
    assert "policy linesight-gateway is not attached" in result.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="changing owners needs root, as in the container")
def test_minio_volume_init_hands_every_file_to_minio_and_the_top_folder_last(compose, tmp_path):
    shell, flag, script = compose["services"]["minio-volume-init"]["command"]
    data = tmp_path / "data"
    (data / ".minio.sys" / "buckets").mkdir(parents=True)
    (data / "linesight-images" / "photo.jpg").parent.mkdir()
    (data / "linesight-images" / "photo.jpg").write_bytes(b"jpeg")
    (data / ".minio.sys").chmod(0o700)  # a folder root could no longer enter once it is MinIO's
    script = script.replace("$$", "$").replace("/data", str(data))

    subprocess.run([shell, flag, script], check=True, timeout=60)
    owners = {(p.stat().st_uid, p.stat().st_gid) for p in [data, *data.rglob("*")]}
    assert owners == {(10002, 10002)}
    # the next start sees a top folder that is MinIO's and stops there
    (data / "late.txt").write_text("root's")
    subprocess.run([shell, flag, script], check=True, timeout=60)
    assert (data / "late.txt").stat().st_uid == 0
