"""docker-compose.yml and its GPU override follow the compose spec and the project's rules
(docs/architecture.md): health-gated start order, no working default secret, ports only where a person
connects, named volumes for state, every LineSight image built from the one template. The image rules
(the template with each service's build args) are in test_service_image.py.

No Docker engine is needed: the files are read and checked as data. Each rule is a function returning
the list of what breaks it, so the tests below also show that each rule catches a broken file."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft7Validator

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
GPU_FILE = REPO / "docker-compose.gpu.yml"
ENV_EXAMPLE = REPO / ".env.example"
ARCHITECTURE = REPO / "docs" / "architecture.md"
# The shared folder sits beside the checkout (or beside the folder of worktrees it is in).
SCHEMA_FILE = next(
    (
        p / "shared" / "reference" / "compose-spec.json"
        for p in (REPO.parent, REPO.parent.parent)
        if (p / "shared" / "reference" / "compose-spec.json").is_file()
    ),
    REPO.parent / "shared" / "reference" / "compose-spec.json",
)
# The one Dockerfile of every LineSight image; the build args say which service it is.
SERVICE_TEMPLATE = "deploy/service.Dockerfile"

# The LineSight services: (folder, command, container port, port of /ready for the healthcheck).
# Kept here rather than imported from linesight_devstack, which is being written at the same time;
# test_service_table_matches_architecture_doc keeps this table and docs/architecture.md in step.
SERVICES: dict[str, tuple[str, list[str], int, int]] = {
    "gateway": ("gateway", ["python", "-m", "linesight_gateway"], 8000, 8000),
    "inference": ("inference", ["python", "-m", "linesight_inference"], 8001, 8001),
    "ocr-service": ("ocr-service", ["python", "-m", "linesight_ocr"], 8002, 8002),
    "registry": ("registry", ["python", "-m", "linesight_registry"], 8003, 8003),
    "training-worker": ("training-worker", ["python", "-m", "linesight_training"], 8004, 8004),
    "ui": ("ui", ["python", "-m", "linesight_ui"], 8501, 8502),
}
INFRASTRUCTURE = {
    "postgres",
    "redis",
    "minio",
    "minio-volume-init",
    "minio-init",
    "prometheus",
    "grafana",
    "caddy",
}
# Containers that open untrusted files: no network at all, nothing to steal, nothing to keep.
SANDBOXES = {"converter"}
# The only containers a person connects to: (host-address variable, host-port variable, default host
# port, container port) of each published port. Every address defaults to the loopback interface.
PUBLISHED: dict[str, list[tuple[str, str, int, int]]] = {
    "gateway": [("LINESIGHT_BIND_ADDRESS", "LINESIGHT_GATEWAY_HOST_PORT", 8000, 8000)],
    "ui": [("LINESIGHT_BIND_ADDRESS", "LINESIGHT_UI_HOST_PORT", 8501, 8501)],
    "grafana": [("LINESIGHT_BIND_ADDRESS", "LINESIGHT_GRAFANA_HOST_PORT", 3000, 3000)],
    "caddy": [
        ("LINESIGHT_TLS_BIND_ADDRESS", "LINESIGHT_TLS_UI_PORT", 443, 443),
        ("LINESIGHT_TLS_BIND_ADDRESS", "LINESIGHT_TLS_GATEWAY_PORT", 8443, 8443),
        ("LINESIGHT_TLS_BIND_ADDRESS", "LINESIGHT_TLS_GRAFANA_PORT", 3443, 3443),
    ],
}
# Containers whose data must outlive the container, and the path their named volume is mounted at.
STATEFUL = {
    "postgres": "/var/lib/postgresql/data",
    "redis": "/data",
    "minio": "/data",
    "prometheus": "/prometheus",
    "grafana": "/var/lib/grafana",
    "inference": "/var/cache/linesight/models",
    "training-worker": "/var/lib/linesight/training",
    "caddy": "/data",
}
SECRETS = {
    "REDIS_PASSWORD",
    "S3_GATEWAY_SECRET_KEY",
    "S3_REGISTRY_SECRET_KEY",
    "S3_INFERENCE_SECRET_KEY",
    "S3_TRAINING_SECRET_KEY",
    "POSTGRES_PASSWORD",
    "MINIO_ROOT_USER",
    "MINIO_ROOT_PASSWORD",
    "LINESIGHT_SERVICE_TOKEN",
    "LINESIGHT_ADMIN_API_KEY",
    "GRAFANA_ADMIN_PASSWORD",
}


def load_yaml(path: Path) -> dict:
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_yaml(COMPOSE_FILE)


@pytest.fixture(scope="module")
def gpu() -> dict:
    return load_yaml(GPU_FILE)


def env_example_values() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        assert sep, f".env.example: {line!r} is not NAME=value"
        values[name.strip()] = value.strip()
    return values


# --- variable interpolation ----------------------------------------------------------------------

# Compose interpolates ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?err}, ${NAME?err},
# ${NAME:+alt}, ${NAME+alt} and bare $NAME; "$$" is a literal dollar left to the container.
_INTERPOLATION = re.compile(
    r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)((?::?[-?+])[^}]*)?\}|\$([A-Za-z_][A-Za-z0-9_]*)"
)


@dataclass(frozen=True)
class VarRef:
    name: str
    operator: str  # "", ":-", "-", ":?", "?", ":+", "+"
    where: str


def _strings(node: object, where: str = ""):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(key, where)
            yield from _strings(value, f"{where}.{key}" if where else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _strings(value, f"{where}[{i}]")
    elif isinstance(node, str):
        yield where, node


def variable_refs(document: dict) -> list[VarRef]:
    refs = []
    for where, text in _strings(document):
        for match in _INTERPOLATION.finditer(text):
            if match.group(0) == "$$":
                continue
            if match.group(3):
                refs.append(VarRef(match.group(3), "", where))
            else:
                modifier = match.group(2) or ""
                operator = modifier[:2] if modifier.startswith(":") else modifier[:1]
                refs.append(VarRef(match.group(1), operator, where))
    return refs


# --- compose rules ----------------------------------------------------------------------------------


def is_one_shot(service: dict) -> bool:
    """A job that runs to its end and exits (minio-init): `restart: "no"`, waited for with
    service_completed_successfully instead of a healthcheck."""
    return service.get("restart") == "no" and not service.get("healthcheck")


def healthcheck_violations(doc: dict) -> list[str]:
    problems = []
    for name, service in doc.get("services", {}).items():
        if is_one_shot(service):
            continue
        check = service.get("healthcheck")
        if not check or check.get("disable") in (True, "true"):
            problems.append(f"service {name}: no healthcheck")
            continue
        test = check.get("test")
        if not test or (isinstance(test, list) and test[0] == "NONE"):
            problems.append(f"service {name}: healthcheck has no test")
    return problems


def depends_on_violations(doc: dict) -> list[str]:
    services = doc.get("services", {})
    problems = []
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        if isinstance(depends, list):
            problems.extend(
                f"service {name}: depends_on {target} without condition service_healthy" for target in depends
            )
            depends = {t: {} for t in depends}
        for target, spec in depends.items():
            if target not in services:
                problems.append(f"service {name}: depends_on {target}, which is not a service")
                continue
            expected = (
                "service_completed_successfully" if is_one_shot(services[target]) else "service_healthy"
            )
            if (spec or {}).get("condition") != expected:
                problems.append(
                    f"service {name}: depends_on {target} with condition {(spec or {}).get('condition')!r}, "
                    f"expected {expected}"
                )
    return problems


# A published port names its host address: a *_BIND_ADDRESS variable from .env that defaults to the
# loopback interface, so nothing is exposed to the network unless .env says so.
_BOUND_PORT = re.compile(r"^\$\{(?P<address>[A-Z_]*BIND_ADDRESS):-127\.0\.0\.1\}:.+:\d+(/tcp)?$")


def port_violations(doc: dict) -> list[str]:
    problems = []
    for name, service in doc.get("services", {}).items():
        ports = service.get("ports") or []
        for port in ports:
            if not isinstance(port, str) or not _BOUND_PORT.match(port):
                problems.append(
                    f"service {name}: port {port!r} is not bound to an address from .env "
                    "(write it ${..._BIND_ADDRESS:-127.0.0.1}:host:container)"
                )
        if name not in PUBLISHED:
            if ports:
                problems.append(f"service {name}: publishes {ports}, only {sorted(PUBLISHED)} may")
            continue
        expected = [
            f"${{{address}:-127.0.0.1}}:${{{variable}:-{host_port}}}:{container_port}"
            for address, variable, host_port, container_port in PUBLISHED[name]
        ]
        if [str(p) for p in ports] != expected:
            problems.append(f"service {name}: ports {ports}, expected {expected!r}")
    return problems


def network_violations(doc: dict) -> list[str]:
    networks = doc.get("networks") or {}
    internal = {n for n, spec in networks.items() if (spec or {}).get("internal") is True}
    problems = []
    if len(internal) != 1:
        problems.append(f"expected exactly one internal network, found {sorted(internal)}")
    for name, service in doc.get("services", {}).items():
        joined = service.get("networks") or []
        joined = list(joined) if isinstance(joined, list) else list(joined.keys())
        if name in SANDBOXES and (service.get("network_mode") != "none" or joined):
            problems.append(f"service {name}: a sandbox must have network_mode none and no networks")
            continue
        if service.get("network_mode") == "none":
            # no network at all (minio-volume-init, a sandbox): nothing to reach, nothing to publish
            if joined or service.get("ports"):
                problems.append(f"service {name}: network_mode none with networks or ports")
            continue
        if service.get("network_mode") is not None:
            problems.append(
                f"service {name}: network_mode {service['network_mode']!r}; only 'none' is allowed"
            )
            continue
        if not joined:
            problems.append(f"service {name}: joins no declared network (it would land on the default one)")
        for net in joined:
            if net not in networks:
                problems.append(f"service {name}: network {net} is not declared at the top level")
        outside = [n for n in joined if n not in internal]
        if name in PUBLISHED and not outside:
            problems.append(f"service {name}: publishes a port but joins only internal networks")
        if name not in PUBLISHED and outside:
            problems.append(
                f"service {name}: joins {outside}, but only {sorted(PUBLISHED)} may leave the internal network"
            )
    return problems


def volume_violations(doc: dict) -> list[str]:
    declared = set((doc.get("volumes") or {}).keys())
    problems = []
    for name, service in doc.get("services", {}).items():
        named = {}
        for mount in service.get("volumes") or []:
            if isinstance(mount, str):
                source, _, rest = mount.partition(":")
                target = rest.split(":")[0]
                kind = "bind" if source.startswith((".", "/", "~", "$")) else "volume"
            else:
                source, target, kind = mount.get("source", ""), mount.get("target", ""), mount.get("type")
            if kind == "volume":
                if source not in declared:
                    problems.append(
                        f"service {name}: volume {source} is not declared under top-level volumes"
                    )
                named[target] = source
        if name in STATEFUL and STATEFUL[name] not in named:
            problems.append(f"service {name}: no named volume mounted at {STATEFUL[name]}")
    return problems


def build_violations(doc: dict, base: Path = REPO) -> list[str]:
    problems = []
    for name, service in doc.get("services", {}).items():
        build = service.get("build")
        if build is None:
            image = service.get("image", "")
            tag = image.rpartition(":")[2] if ":" in image else ""
            if not tag or tag == "latest":
                problems.append(f"service {name}: image {image!r} has no pinned tag")
            continue
        if isinstance(build, str):
            build = {"context": build}
        context = base / build.get("context", ".")
        dockerfile = context / build.get("dockerfile", "Dockerfile")
        if not context.is_dir():
            problems.append(f"service {name}: build context {context} is not a folder")
        if not dockerfile.is_file():
            problems.append(f"service {name}: Dockerfile {dockerfile} does not exist")
    return problems


def variable_violations(doc: dict, listed: dict[str, str]) -> list[str]:
    problems = []
    for ref in variable_refs(doc):
        if ref.name not in listed:
            problems.append(f"${{{ref.name}}} (at {ref.where}) is not listed in .env.example")
        if ref.name in SECRETS and ref.operator not in {":?", "?"}:
            problems.append(
                f"secret ${{{ref.name}}} (at {ref.where}) must be written ${{{ref.name}:?message}}: "
                "compose has to refuse to start without it"
            )
    return problems


def service_violations(doc: dict) -> list[str]:
    """The LineSight services run the documented command, build their own image, listen where documented."""
    services = doc.get("services", {})
    problems = [f"service {name}: missing" for name in SERVICES if name not in services]
    for name, (folder, command, port, ready_port) in SERVICES.items():
        service = services.get(name)
        if service is None:
            continue
        if service.get("command") != command:
            problems.append(f"service {name}: command {service.get('command')!r}, expected {command!r}")
        build = service.get("build") or {}
        if build.get("context") != "." or build.get("dockerfile") != SERVICE_TEMPLATE:
            problems.append(f"service {name}: build must be context '.' with dockerfile {SERVICE_TEMPLATE}")
        elif (build.get("args") or {}).get("SERVICE") != folder:
            problems.append(f"service {name}: build arg SERVICE must be {folder!r}")
        env = service.get("environment") or {}
        if isinstance(env, list):
            env = dict(item.partition("=")[::2] for item in env)
        for key, expected in (
            ("LINESIGHT_HOST", "0.0.0.0"),
            ("LINESIGHT_PORT", str(port)),
            ("LINESIGHT_SERVICE_NAME", name),
        ):
            if str(env.get(key)) != expected:
                problems.append(f"service {name}: {key}={env.get(key)!r}, expected {expected!r}")
        test = " ".join((service.get("healthcheck") or {}).get("test") or [])
        if f":{ready_port}/ready" not in test:
            problems.append(
                f"service {name}: healthcheck should ask /ready on port {ready_port} (has {test!r})"
            )
    unknown = set(services) - set(SERVICES) - INFRASTRUCTURE - SANDBOXES
    problems.extend(f"service {name}: not a documented container" for name in sorted(unknown))
    return problems


def sandbox_violations(doc: dict) -> list[str]:
    """The converter opens uploaded pickles: no network, no credentials, read-only, no privileges, bounded."""
    problems = []
    for name in SANDBOXES:
        service = doc.get("services", {}).get(name)
        if service is None:
            problems.append(f"service {name}: missing")
            continue
        expected = {
            "network_mode": "none",
            "read_only": True,
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges:true"],
            "init": False,
        }
        for key, value in expected.items():
            if service.get(key) != value:
                problems.append(f"service {name}: {key} is {service.get(key)!r}, expected {value!r}")
        for key in ("mem_limit", "pids_limit", "tmpfs"):
            if not service.get(key):
                problems.append(f"service {name}: no {key}")
        if service.get("secrets") or service.get("env_file"):
            problems.append(f"service {name}: gets secrets")
        env = service.get("environment") or {}
        if isinstance(env, list):
            env = dict(item.partition("=")[::2] for item in env)
        held = [
            key
            for key, value in env.items()
            if any(word in key for word in ("TOKEN", "SECRET", "ACCESS_KEY", "PASSWORD", "API_KEY", "_URL"))
            or "MINIO_ROOT" in str(value)
        ]
        if held:
            problems.append(f"service {name}: holds credentials or addresses {held}")
        mounts = [m if isinstance(m, str) else m.get("source", "") for m in service.get("volumes") or []]
        if mounts != ["convert-spool:/var/lib/linesight/convert"]:
            problems.append(f"service {name}: mounts {mounts}, expected only the spool volume")
    return problems


def schema_errors(doc: dict) -> list[str]:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    Draft7Validator.check_schema(schema)
    validator = Draft7Validator(schema)
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
        for error in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    ]


# --- the tests ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "files", [[COMPOSE_FILE], [GPU_FILE], [COMPOSE_FILE, GPU_FILE]], ids=["base", "gpu", "merged"]
)
def test_compose_files_follow_the_compose_spec(files):
    if not SCHEMA_FILE.is_file():
        pytest.skip(f"compose JSON schema not found at {SCHEMA_FILE} (the shared reference folder is absent)")
    doc: dict = {}
    for path in files:
        doc = merged(doc, load_yaml(path))
    errors = schema_errors(doc)
    names = " + ".join(p.name for p in files)
    assert not errors, f"{names} does not follow the compose spec:\n" + "\n".join(errors)


def test_every_container_is_there(compose):
    assert set(compose["services"]) == set(SERVICES) | INFRASTRUCTURE | SANDBOXES


def test_the_converter_is_shut_off(compose):
    assert not sandbox_violations(compose)
    worker = compose["services"]["training-worker"]
    assert worker["environment"]["LINESIGHT_CONVERTER"] == "service"
    assert "convert-spool:/var/lib/linesight/convert" in worker["volumes"]


def test_the_ui_holds_no_credential(compose):
    """Every gateway call of the UI is made as the signed-in person: no service token, no gateway key."""
    ui = compose["services"]["ui"]
    held = [k for k in ui["environment"] if any(w in k for w in ("TOKEN", "KEY", "SECRET", "PASSWORD"))]
    assert not held, f"the ui container gets credentials: {held}"
    assert not ui.get("secrets") and not ui.get("env_file")
    assert ui["environment"]["LINESIGHT_GATEWAY_URL"] == "http://gateway:8000"


def test_every_service_has_a_healthcheck(compose):
    problems = healthcheck_violations(compose)
    assert not problems, "\n".join(problems)


def test_depends_on_waits_for_healthy_services(compose):
    problems = depends_on_violations(compose)
    assert not problems, "\n".join(problems)


def test_only_gateway_ui_and_grafana_publish_ports(compose):
    problems = port_violations(compose)
    assert not problems, "\n".join(problems)


def test_backend_network_is_internal(compose):
    problems = network_violations(compose)
    assert not problems, "\n".join(problems)


def test_stateful_containers_keep_data_in_named_volumes(compose):
    problems = volume_violations(compose)
    assert not problems, "\n".join(problems)


def test_builds_have_their_dockerfile_and_images_are_pinned(compose, gpu):
    problems = build_violations(compose)
    problems += [f"with the GPU override: {p}" for p in build_violations(merged(compose, gpu))]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", [COMPOSE_FILE, GPU_FILE], ids=lambda p: p.name)
def test_every_variable_is_in_env_example_and_secrets_are_required(path):
    problems = variable_violations(load_yaml(path), env_example_values())
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


def test_env_example_lists_nothing_stale_and_leaves_secrets_empty(compose, gpu):
    listed = env_example_values()
    used = {ref.name for ref in variable_refs(compose) + variable_refs(gpu)}
    stale = sorted(set(listed) - used)
    assert not stale, f".env.example lists variables no compose file reads: {stale}"
    filled = sorted(name for name in SECRETS if listed.get(name))
    assert not filled, f".env.example gives secrets a value that would work: {filled}"


def test_services_start_as_documented(compose):
    problems = service_violations(compose)
    assert not problems, "\n".join(problems)


def test_service_table_matches_architecture_doc():
    """SERVICES above and the table 'How each service starts' in docs/architecture.md agree."""
    rows = {}
    for line in ARCHITECTURE.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[1].startswith("`python -m "):
            rows[cells[0]] = (cells[1].strip("`").split(), int(cells[3]))
    documented = {name: (command, port) for name, (_, command, port, _) in SERVICES.items()}
    assert rows == documented


def test_gpu_override_reserves_a_gpu_and_builds_onnxruntime_gpu(gpu):
    inference = gpu["services"]["inference"]
    devices = inference["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    package = inference["build"]["args"]["ORT_PACKAGE"]
    assert package.startswith("onnxruntime-gpu")
    assert "ARG ORT_PACKAGE=onnxruntime\n" in (REPO / SERVICE_TEMPLATE).read_text(encoding="utf-8")
    pins = dict(
        line.split("==", 1) for line in (REPO / "constraints.txt").read_text().splitlines() if "==" in line
    )
    assert "onnxruntime-gpu" in pins, "constraints.txt must pin onnxruntime-gpu for the GPU image"
    assert set(gpu["services"]) == {"inference"}, "the GPU override should touch inference only"


# --- the rules catch what they are meant to catch ---------------------------------------------------


def merged(base: dict, override: dict) -> dict:
    """The model `docker compose -f base -f override` works on: mappings merge, everything else replaces."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _broken(compose: dict, edit) -> dict:
    doc = copy.deepcopy(compose)
    edit(doc)
    return doc


@pytest.mark.parametrize(
    ("rule", "edit", "expected"),
    [
        (healthcheck_violations, lambda d: d["services"]["redis"].pop("healthcheck"), "service redis"),
        (
            depends_on_violations,
            lambda d: d["services"]["ui"]["depends_on"]["gateway"].update(condition="service_started"),
            "service ui: depends_on gateway",
        ),
        (
            depends_on_violations,
            lambda d: d["services"]["ui"]["depends_on"].update(nginx={"condition": "service_healthy"}),
            "depends_on nginx, which is not a service",
        ),
        (port_violations, lambda d: d["services"]["minio"].update(ports=["9000:9000"]), "service minio"),
        (
            network_violations,
            lambda d: d["services"]["postgres"].update(networks=["backend", "frontend"]),
            "service postgres",
        ),
        (
            sandbox_violations,
            lambda d: d["services"]["converter"].update(network_mode="bridge"),
            "service converter: network_mode",
        ),
        (
            sandbox_violations,
            lambda d: d["services"]["converter"]["environment"].update(LINESIGHT_SERVICE_TOKEN="x"),
            "holds credentials",
        ),
        (volume_violations, lambda d: d["volumes"].pop("postgres-data"), "volume postgres-data"),
        (volume_violations, lambda d: d["services"]["redis"].pop("volumes"), "service redis"),
        (build_violations, lambda d: d["services"]["redis"].update(image="redis:latest"), "service redis"),
        (
            build_violations,
            lambda d: d["services"]["ui"]["build"].update(dockerfile="nowhere/Dockerfile"),
            "service ui",
        ),
        (
            service_violations,
            lambda d: d["services"]["inference"].update(command=["uvicorn", "linesight_inference.main:app"]),
            "service inference: command",
        ),
        (
            service_violations,
            lambda d: d["services"]["registry"]["build"]["args"].update(SERVICE="gateway"),
            "service registry: build arg SERVICE",
        ),
    ],
    ids=[
        "healthcheck-removed",
        "depends-on-started",
        "depends-on-unknown",
        "port-on-minio",
        "postgres-on-frontend",
        "converter-on-a-network",
        "converter-with-a-token",
        "volume-undeclared",
        "redis-without-volume",
        "image-latest",
        "dockerfile-missing",
        "command-changed",
        "image-of-another-service",
    ],
)
def test_rule_reports_a_broken_compose_file(compose, rule, edit, expected):
    assert not rule(compose), "the real file should pass before it is broken"
    problems = rule(_broken(compose, edit))
    assert any(expected in p for p in problems), problems


def test_variable_rule_reports_unlisted_and_defaulted_secrets(compose):
    listed = env_example_values()

    def edit(d):
        d["services"]["registry"]["environment"]["LINESIGHT_EXTRA"] = "${LINESIGHT_NOT_LISTED:-x}"
        d["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"] = "${POSTGRES_PASSWORD:-postgres}"

    problems = variable_violations(_broken(compose, edit), listed)
    assert any("LINESIGHT_NOT_LISTED" in p and "not listed" in p for p in problems), problems
    assert any("secret ${POSTGRES_PASSWORD}" in p for p in problems), problems


def test_variable_parser_reads_every_form_and_skips_escaped_dollars():
    refs = variable_refs({"a": "${A} ${B:-x} ${C-y} ${D:?err} ${E?e} ${F:+z} $G $${NOT_ME} $$H"})
    assert [(r.name, r.operator) for r in refs] == [
        ("A", ""),
        ("B", ":-"),
        ("C", "-"),
        ("D", ":?"),
        ("E", "?"),
        ("F", ":+"),
        ("G", ""),
    ]
