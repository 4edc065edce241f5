"""Every LineSight image is built from deploy/service.Dockerfile with its service's build args from
docker-compose.yml. Without a Docker engine, the template is resolved with each service's args (and the
GPU override's) the way the builder substitutes them, and the result is checked as that service's own
Dockerfile: python:3.11-slim, a non-root user, a healthcheck on the right port, the documented command,
the pinned dependencies installed before the code is copied, the volumes' folders owned by the user. The
args themselves must name a service folder, a runnable module and the service's port."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex

import pytest

from tests.unit.test_compose import (
    COMPOSE_FILE,
    GPU_FILE,
    REPO,
    SERVICE_TEMPLATE,
    SERVICES,
    load_yaml,
    merged,
)

pytestmark = pytest.mark.unit

TEMPLATE = REPO / SERVICE_TEMPLATE
# Instructions the builder substitutes variables in; RUN gets them from its shell, where build args are
# environment variables. CMD and HEALTHCHECK are read at run time, with the image's ENV.
_BUILD_TIME = {"ADD", "COPY", "ENV", "EXPOSE", "FROM", "LABEL", "USER", "VOLUME", "WORKDIR", "ARG", "RUN"}
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and not pending):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            instructions.append((word.upper(), rest.strip()))
    if pending.strip():
        word, _, rest = pending.strip().partition(" ")
        instructions.append((word.upper(), rest.strip()))
    return instructions


def substitute(text: str, values: dict[str, str]) -> str:
    """${NAME}, ${NAME:-default}, ${NAME:+alternative} and $NAME; names without a value are kept as written
    (in a RUN they belong to the shell: `$site`)."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(4)
        if name not in values:
            return match.group(0)
        value, operator, word = values[name], match.group(2), match.group(3) or ""
        if operator == "-":
            return value or word
        if operator == "+":
            return word if value else ""
        return value

    return _VARIABLE.sub(one, text)


def template_args(instructions: list[tuple[str, str]]) -> dict[str, str | None]:
    """The ARGs the template declares, with their defaults as written (None: no default)."""
    declared: dict[str, str | None] = {}
    for kind, arguments in instructions:
        if kind == "ARG":
            name, sep, default = arguments.partition("=")
            declared[name] = json.loads(default) if default.startswith('"') else default if sep else None
    return declared


def resolve(instructions: list[tuple[str, str]], args: dict[str, str]) -> tuple[list, dict[str, str]]:
    """The instructions as the builder runs them with `args`, and the image's ENV."""
    values: dict[str, str] = {}
    env: dict[str, str] = {}
    out = []
    for kind, arguments in instructions:
        if kind == "ARG":
            name, sep, default = arguments.partition("=")
            given = args.get(name)
            default = json.loads(default) if default.startswith('"') else default
            values[name] = given if given is not None else substitute(default, values) if sep else ""
            out.append((kind, arguments))
            continue
        resolved = substitute(arguments, values) if kind in _BUILD_TIME else arguments
        if kind == "ENV":
            for pair in shlex.split(resolved):
                key, _, value = pair.partition("=")
                env[key] = value
                values[key] = value
        out.append((kind, resolved))
    return out, env


def _copy_sources(arguments: str) -> list[str]:
    parts = json.loads(arguments) if arguments.startswith("[") else shlex.split(arguments)
    return [p for p in parts if not p.startswith("--")][:-1]


def run_command(cmd: str, env: dict[str, str]) -> list[str]:
    """What a CMD runs: the exec form as written, or the command a `sh -c "exec …"` launcher execs."""
    argv = json.loads(cmd)
    if argv[:2] == ["sh", "-c"] and len(argv) == 3:
        words = shlex.split(substitute(argv[2], env))
        return words[1:] if words[:1] == ["exec"] else words
    return argv


def image_violations(
    instructions: list[tuple[str, str]], env: dict[str, str], folder: str, command: list[str], ports: set[int]
) -> list[str]:
    """What breaks the image rules in one resolved Dockerfile."""
    problems: list[str] = []
    kinds = [k for k, _ in instructions]

    froms = [a for k, a in instructions if k == "FROM"]
    if not froms or not froms[-1].split()[0].startswith("python:3.11-slim"):
        problems.append(f"the image must build FROM python:3.11-slim (found {froms})")
    users = [a.split(":")[0].strip() for k, a in instructions if k == "USER"]
    if not users:
        problems.append("no USER instruction, the container would run as root")
    elif users[-1] in {"root", "0"}:
        problems.append(f"the last USER is {users[-1]!r}, the container would run as root")
    healthchecks = [a for k, a in instructions if k == "HEALTHCHECK"]
    if not healthchecks or healthchecks[-1].upper().startswith("NONE"):
        problems.append("no HEALTHCHECK")
    else:
        port_variables = re.findall(r"os\.environ\['([A-Z_]+)'\]", healthchecks[-1])
        probed = {env.get(v, "") for v in port_variables}
        if not probed & {str(p) for p in ports}:
            problems.append(f"the HEALTHCHECK asks port {sorted(probed)}, not one of {sorted(ports)}")
    if env.get("PYTHONUNBUFFERED") != "1":
        problems.append("ENV PYTHONUNBUFFERED=1 is missing (logs would be held in a buffer)")
    exposed = {int(p.split("/")[0]) for k, a in instructions if k == "EXPOSE" for p in a.split()}
    if not ports <= exposed:
        problems.append(f"EXPOSE {sorted(exposed)} does not cover the service ports {sorted(ports)}")
    cmds = [a for k, a in instructions if k == "CMD"]
    if not cmds or not cmds[-1].startswith("[") or run_command(cmds[-1], env) != command:
        problems.append(f"CMD must run {json.dumps(command)} (found {cmds})")

    # Dependencies before code: the third-party install (from the pyproject files, pinned by
    # constraints.txt) must come before the code is copied, and whatever installs after that must not
    # touch the dependencies again (--no-deps), or every code edit would re-download them.
    code_dirs = {"services", folder}
    deps_at = None
    for i, (kind, arguments) in enumerate(instructions):
        if kind == "RUN" and "pip install" in arguments and "--no-deps" not in arguments:
            if "-c constraints.txt" not in arguments:
                problems.append(f"`{arguments[:60]}...` installs without -c constraints.txt")
            if deps_at is None and "pyproject_deps.py" in arguments:
                deps_at = i
    code_at = next(
        (
            i
            for i, (kind, arguments) in enumerate(instructions)
            if kind in {"COPY", "ADD"}
            and any(src.rstrip("/") in code_dirs or src in {".", "./"} for src in _copy_sources(arguments))
        ),
        None,
    )
    if deps_at is None:
        problems.append("no `pip install -c constraints.txt` of the pyproject dependencies")
    elif code_at is None:
        problems.append(f"the code ({', '.join(sorted(code_dirs))}) is never copied")
    elif code_at < deps_at:
        problems.append(
            f"the code is copied (instruction {code_at + 1}) before the dependencies are installed"
        )
    if deps_at is not None:
        for needed in ("services/pyproject.toml", f"{folder}/pyproject.toml"):
            if needed not in instructions[deps_at][1]:
                problems.append(f"the dependency install does not read {needed}")
    if code_at is not None:
        late = [a for k, a in instructions[code_at:] if k == "RUN" and "pip install" in a]
        if not late or any("--no-deps" not in a for a in late):
            problems.append("after the code is copied, pip install must run with --no-deps")
    if kinds and kinds[-1] not in {"CMD", "ENTRYPOINT", "HEALTHCHECK", "EXPOSE", "USER", "LABEL"}:
        problems.append(f"ends with {kinds[-1]}; build steps after the runtime settings are unexpected")
    return problems


def pinned_packages() -> set[str]:
    lines = (REPO / "constraints.txt").read_text(encoding="utf-8").splitlines()
    return {line.split("==", 1)[0].strip().lower() for line in lines if "==" in line}


def arg_violations(
    declared: dict[str, str | None], args: dict[str, str], folder: str, module: str
) -> list[str]:
    """The build args name a service folder, a module it runs, pinned packages; none is unknown or missing."""
    problems = [
        f"build arg {name} is not declared in {SERVICE_TEMPLATE}" for name in args if name not in declared
    ]
    problems += [
        f"build arg {name} has no default and is not given"
        for name, default in declared.items()
        if default is None and not args.get(name)
    ]
    service = args.get("SERVICE", "")
    if service != folder or not (REPO / service / "pyproject.toml").is_file():
        problems.append(f"SERVICE={service!r}: not the service folder {folder!r} with a pyproject.toml")
    package = args.get("MODULE", "")
    if package != module.split(".")[0] or not (REPO / service / package / "__main__.py").is_file():
        problems.append(f"MODULE={package!r}: {service}/{package}/__main__.py does not run {module}")
    pins = pinned_packages()
    for name in ("FIRST_PIP_PACKAGES", "NO_DEPS_PIP_PACKAGES"):
        unpinned = [p for p in args.get(name, "").split() if p.lower() not in pins]
        if unpinned:
            problems.append(f"{name}: {unpinned} not pinned in constraints.txt")
    return problems


def volume_owner_violations(
    service: dict, args: dict[str, str], declared: dict[str, str | None]
) -> list[str]:
    """A named volume's first mount copies the owner of the image's folder: every folder a named volume is
    mounted on must be made by the template for the service user (STATE_DIRS or WORK_DIR)."""
    owned = set(args.get("STATE_DIRS", "").split()) | {args.get("WORK_DIR") or declared.get("WORK_DIR") or ""}
    problems = []
    for volume in service.get("volumes") or []:
        source, _, rest = volume.partition(":") if isinstance(volume, str) else ("", "", "")
        target = rest.split(":")[0]
        if source and not source.startswith((".", "/")) and target not in owned:
            problems.append(
                f"volume {source} is mounted on {target}, which the image does not make for uid 10001"
            )
    return problems


def service_builds() -> list[tuple[str, str, dict, dict[str, str]]]:
    """(label, compose service, service, build args) of every LineSight build, plain and with the GPU."""
    compose, gpu = load_yaml(COMPOSE_FILE), load_yaml(GPU_FILE)
    builds = []
    for label, doc in (("", compose), ("gpu:", merged(compose, gpu))):
        for name, service in doc["services"].items():
            build = service.get("build")
            if build and build.get("dockerfile") == SERVICE_TEMPLATE:
                builds.append((label + name, name, service, {k: str(v) for k, v in build["args"].items()}))
    return builds


BUILDS = service_builds()


def build_violations(name: str, service: dict, args: dict[str, str], text: str) -> list[str]:
    """Everything wrong with one compose service's image, built from `text` (the template) with `args`."""
    folder, command, port, ready_port = SERVICES.get(name, SERVICES["training-worker"])
    if name not in SERVICES:  # the converter: the training image, another command
        command = service["command"]
    module = command[2] if command[:2] == ["python", "-m"] else ""
    raw = dockerfile_instructions(text)
    declared = template_args(raw)
    instructions, env = resolve(raw, args)
    image_command = SERVICES.get(name, SERVICES["training-worker"])[1]
    problems = arg_violations(declared, args, folder, module)
    problems += image_violations(instructions, env, folder, image_command, {port, ready_port})
    problems += volume_owner_violations(service, args, declared)
    return problems


def test_every_linesight_service_builds_from_the_template():
    names = {name for _, name, _, _ in BUILDS}
    assert names == set(SERVICES) | {"converter"}, names


@pytest.mark.parametrize(("label", "name", "service", "args"), BUILDS, ids=[b[0] for b in BUILDS])
def test_image_rules(label, name, service, args):
    problems = build_violations(name, service, args, TEMPLATE.read_text(encoding="utf-8"))
    assert not problems, f"{label} ({SERVICE_TEMPLATE}):\n" + "\n".join(problems)


def test_the_gpu_image_installs_onnxruntime_gpu_in_place_of_onnxruntime():
    gpu_args = next(args for label, _, _, args in BUILDS if label == "gpu:inference")
    plain_args = next(args for label, _, _, args in BUILDS if label == "inference")
    raw = dockerfile_instructions(TEMPLATE.read_text(encoding="utf-8"))
    for args, package in ((gpu_args, gpu_args["ORT_PACKAGE"]), (plain_args, "onnxruntime")):
        instructions, _ = resolve(raw, args)
        deps = next(a for k, a in instructions if k == "RUN" and "pyproject_deps.py" in a)
        assert f'--replace "onnxruntime={package}"' in deps
    assert gpu_args["ORT_PACKAGE"].split("[")[0] in pinned_packages()
    # The pip CUDA libraries are registered with the dynamic loader in the same layer as the install.
    assert "/etc/ld.so.conf.d/linesight-nvidia.conf" in deps and "ldconfig" in deps


def test_dockerignore_keeps_local_state_out_and_lets_the_build_inputs_in():
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for needed in (".venv", ".devstack", ".git", ".env"):
        assert needed in patterns, f".dockerignore should exclude {needed}"
    excluded = [p for p in patterns if not p.startswith("!")]
    raw = dockerfile_instructions(TEMPLATE.read_text(encoding="utf-8"))
    for label, _, _, args in BUILDS:
        instructions, _ = resolve(raw, args)
        for kind, arguments in instructions:
            if kind != "COPY":
                continue
            for source in _copy_sources(arguments):
                top = source.strip("/").split("/")[0]
                hits = [
                    p for p in excluded if fnmatch.fnmatch(source.rstrip("/"), p) or fnmatch.fnmatch(top, p)
                ]
                assert not hits, f"{label}: the image copies {source}, which .dockerignore excludes ({hits})"


# --- the rules catch what they are meant to catch ---------------------------------------------------


def _registry_build() -> tuple[dict, dict[str, str]]:
    _, _, service, args = next(b for b in BUILDS if b[0] == "registry")
    return service, dict(args)


@pytest.mark.parametrize(
    ("edit_args", "expected"),
    [
        (lambda a: a.update(MODULE="linesight_gatway"), "MODULE='linesight_gatway'"),
        (lambda a: a.update(SERVICE="gateway"), "SERVICE='gateway'"),
        (lambda a: a.update(PORT="9000"), "does not cover the service ports"),
        (lambda a: a.pop("PORT"), "build arg PORT has no default"),
        (lambda a: a.update(STATEDIRS="/var/tmp/linesight"), "build arg STATEDIRS is not declared"),
        (lambda a: a.update(STATE_DIRS=""), "volume registry-scratch is mounted on /var/tmp/linesight"),
        (lambda a: a.update(NO_DEPS_PIP_PACKAGES="not-a-pinned-package"), "not pinned in constraints.txt"),
    ],
    ids=["module-typo", "other-service", "port", "port-missing", "unknown-arg", "volume-owner", "unpinned"],
)
def test_arg_rules_report_a_broken_build(edit_args, expected):
    service, args = _registry_build()
    text = TEMPLATE.read_text(encoding="utf-8")
    assert not build_violations("registry", service, args, text), "the real build should pass first"
    edit_args(args)
    problems = build_violations("registry", service, args, text)
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize(
    ("edit_text", "expected"),
    [
        (
            # the code copied first: every code edit would reinstall the dependencies
            lambda t: t.replace(
                "COPY services/pyproject.toml services/\n",
                "COPY services/ services/\nCOPY ${SERVICE}/ ${SERVICE}/\n",
            ),
            "before the dependencies are installed",
        ),
        (lambda t: t.replace("USER 10001:10001", "USER root"), "run as root"),
        (
            lambda t: re.sub(r"HEALTHCHECK .*?\n  CMD .*?\n", "HEALTHCHECK NONE\n", t, flags=re.S),
            "no HEALTHCHECK",
        ),
        (lambda t: t.replace("os.environ['LINESIGHT_OPS_PORT']", "'8080'"), "the HEALTHCHECK asks port"),
        (
            lambda t: t.replace(" -c constraints.txt -r requirements.txt", " -r requirements.txt"),
            "without -c constraints",
        ),
        (
            lambda t: t.replace("RUN pip install --no-deps ./services", "RUN pip install ./services"),
            "--no-deps",
        ),
        (
            lambda t: t.replace(
                "LINESIGHT_SERVICE_MODULE=${MODULE}", "LINESIGHT_SERVICE_MODULE=linesight_ui"
            ),
            "CMD",
        ),
    ],
    ids=[
        "code-first",
        "root",
        "no-healthcheck",
        "healthcheck-port",
        "unpinned-install",
        "deps-after-code",
        "cmd",
    ],
)
def test_image_rules_report_a_broken_template(edit_text, expected):
    service, args = _registry_build()
    text = TEMPLATE.read_text(encoding="utf-8")
    broken = edit_text(text)
    assert broken != text, "the edit must change the template"
    problems = build_violations("registry", service, args, broken)
    assert any(expected in p for p in problems), problems
