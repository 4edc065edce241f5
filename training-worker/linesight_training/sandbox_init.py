"""The first program inside the conversion sandbox (`python -I sandbox_init.py SPEC_JSON`), started by
sandbox.py, stdlib only because it runs before any import path of ours exists. As root of the fresh
mount namespace (when there is one) it makes every mount read-only, puts empty tmpfs over the world-writable
folders and binds the job's folder at /tmp/work; then it drops to the sandbox user, sets the resource
limits and starts the child in an empty environment, staying its parent as the namespace's init."""

from __future__ import annotations

import ctypes
import json
import os
import resource
import sys

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_RELATIME = 1, 2, 4, 32, 4096, 16384, 1 << 21
# What a user without privileges could write to on a usual Linux root; each gets an empty tmpfs.
# These are mount points inside the sandbox's own mount namespace, not shared temporary files.
WRITABLE = ("/tmp", "/var/tmp", "/run/lock", "/dev/shm")  # noqa: S108
JOB_DIR = "/tmp/work"  # noqa: S108


def _mount(
    libc: ctypes.CDLL, source: str, target: str, fstype: str | None, flags: int, data: str = ""
) -> None:
    if libc.mount(
        source.encode(), target.encode(), fstype.encode() if fstype else None, flags, data.encode()
    ):
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")


def _kept_flags(point: str) -> int:
    """The flags of a mount that a remount must repeat (a user namespace may not clear them)."""
    try:
        have = os.statvfs(point).f_flag
    except OSError:
        return 0
    kept = have & (os.ST_NODEV | os.ST_NOEXEC | os.ST_NOATIME | os.ST_NODIRATIME)
    return kept | (MS_RELATIME if have & os.ST_RELATIME else 0)


def _closed_ancestor(path: str) -> tuple[str, str] | None:
    """(the first folder above `path` that others may not enter, its entry on the way to `path`)."""
    parts = os.path.realpath(path).strip("/").split("/")
    for depth in range(len(parts) - 1):
        folder = "/" + "/".join(parts[:depth])
        if not os.stat(folder).st_mode & 0o001:
            return folder, parts[depth]
    return None


def isolate_filesystem(workdir: str, expose: list[str]) -> str:
    """Read-only everywhere but a fresh /tmp, with the job folder (opened before it is hidden) at
    /tmp/work. A folder closed to others on the way to the interpreter or our packages (/root, when
    Python lives under it) is replaced by an empty one that holds only that way through. Returns the
    folder the child works in."""
    libc = ctypes.CDLL(None, use_errno=True)
    job = os.open(workdir, os.O_RDONLY | os.O_DIRECTORY)
    passages: dict[str, dict[str, int]] = {}
    for path in expose:
        found = _closed_ancestor(path)
        if found and found[1] not in passages.setdefault(found[0], {}):
            passages[found[0]][found[1]] = os.open(os.path.join(*found), os.O_RDONLY | os.O_DIRECTORY)
    # An exposed folder under one of the fresh tmpfs folders (a checkout or a virtual environment under
    # /tmp, say) would vanish under it: opened now, bound back read-only once the tmpfs is there.
    buried: dict[str, int] = {}
    for path in expose:
        real = os.path.realpath(path)
        if os.path.isdir(real) and any(real.startswith(point + "/") for point in WRITABLE):
            buried[real] = os.open(real, os.O_RDONLY | os.O_DIRECTORY)
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        points = [line.split()[4].encode().decode("unicode_escape") for line in f]
    for point in sorted(set(points), key=len):
        if point == "/proc" or point.startswith("/proc/"):
            continue  # the namespace's own /proc, mounted by unshare
        try:
            _mount(
                libc, "none", point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | _kept_flags(point)
            )
        except OSError:
            pass  # a mount that cannot be changed (locked in a user namespace) keeps its flags
    for point in WRITABLE:
        if os.path.isdir(point):
            _mount(libc, "tmpfs", point, "tmpfs", MS_NOSUID | MS_NODEV, "size=64m,mode=1777")
    for real, fd in sorted(buried.items()):
        os.makedirs(real, exist_ok=True)
        _mount(libc, f"/proc/self/fd/{fd}", real, None, MS_BIND | MS_REC)
        _mount(libc, "none", real, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID)
        os.close(fd)
    for folder, entries in passages.items():
        _mount(libc, "tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
        for name, fd in entries.items():
            os.mkdir(os.path.join(folder, name))
            _mount(libc, f"/proc/self/fd/{fd}", os.path.join(folder, name), None, MS_BIND | MS_REC)
            _mount(
                libc, "none", os.path.join(folder, name), None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID
            )
            os.close(fd)
    os.mkdir(JOB_DIR, 0o700)
    _mount(libc, f"/proc/self/fd/{job}", JOB_DIR, None, MS_BIND)
    # A bind mount starts with the flags of the (now read-only) mount it comes from.
    _mount(libc, "none", JOB_DIR, None, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV)
    os.close(job)
    return JOB_DIR


def drop_privileges(uid: int, gid: int) -> None:
    if os.getuid() != 0 or uid == 0:
        return
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)


def set_limits(limits: dict[str, int]) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (limits["memory_bytes"], limits["memory_bytes"]))
    resource.setrlimit(resource.RLIMIT_CPU, (limits["cpu_seconds"], limits["cpu_seconds"] + 5))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if limits["processes"]:  # counted per user: only meaningful for the sandbox's own user
        resource.setrlimit(resource.RLIMIT_NPROC, (limits["processes"], limits["processes"]))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_bytes"], limits["file_bytes"]))


def main() -> None:
    spec = json.loads(sys.argv[1])
    workdir = spec["workdir"]
    if spec["namespaces"]:
        workdir = isolate_filesystem(workdir, spec["expose"])
    drop_privileges(spec["uid"], spec["gid"])
    os.chdir(workdir)
    env = {key: value.replace("{workdir}", workdir) for key, value in spec["env"].items()}
    pid = os.fork()
    if pid == 0:
        set_limits(spec["limits"])
        os.execve(spec["argv"][0], spec["argv"], env)  # noqa: S606 -- our interpreter, no shell wanted
    # This process stays as the namespace's init, so the child is an ordinary process that the kernel's
    # limits signal (SIGXCPU does not reach an init). When it exits, so does this one, and the kernel
    # kills whatever else is left in the namespace.
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        os._exit(128 + os.WTERMSIG(status))
    os._exit(os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    main()
