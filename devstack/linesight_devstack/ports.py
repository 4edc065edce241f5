"""The local stack's port layout (port base + fixed offsets, see docs/architecture.md) and free-port picking."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterable

DEFAULT_PORT_BASE = 18000
# SeaweedFS listens for gRPC on each of its HTTP ports + 10000; the base must leave room for that.
GRPC_OFFSET = 10000
MAX_PORT_BASE = 45000

OFFSETS: dict[str, int] = {
    "gateway": 0,
    "inference": 1,
    "ocr-service": 2,
    "registry": 3,
    "training-worker": 4,
    "ui": 5,
    "ui-ops": 6,
    "postgres": 10,
    "redis": 11,
    "s3": 12,
    "s3-master": 13,
    "s3-volume": 14,
    "s3-filer": 15,
    "prometheus": 20,
}
SPAN = max(OFFSETS.values()) + 1
WEED_PORTS = ("s3", "s3-master", "s3-volume", "s3-filer")

# Dynamic picks stay here: above the usual service ports, below the kernel's ephemeral range (32768+ on
# Linux is shared with outgoing connections, but a bind check covers that) and low enough for weed's gRPC.
PICK_RANGE = (20000, 44000)


def port_map(base: int) -> dict[str, int]:
    """Every port of a stack at `base`."""
    if not 1024 <= base <= MAX_PORT_BASE:
        raise ValueError(
            f"port base {base} is outside 1024..{MAX_PORT_BASE} (weed's gRPC ports are HTTP + 10000)"
        )
    return {name: base + offset for name, offset in OFFSETS.items()}


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when nothing listens on host:port. SO_REUSEADDR as servers set it: connections of a stopped
    server lingering in TIME_WAIT do not keep the next one from binding."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def busy_ports(ports: Iterable[int], host: str = "127.0.0.1") -> list[int]:
    return [p for p in ports if not port_is_free(p, host)]


def with_grpc(ports: Iterable[int]) -> list[int]:
    """The ports plus the gRPC port weed opens beside each."""
    ports = list(ports)
    return ports + [p + GRPC_OFFSET for p in ports]


def stack_ports_to_check(base: int) -> list[int]:
    ports = port_map(base)
    return list(ports.values()) + [ports[name] + GRPC_OFFSET for name in WEED_PORTS]


def free_port_block(count: int, *, grpc: bool = False, attempts: int = 200) -> int:
    """The first port of `count` consecutive free ports (and their +10000 gRPC twins when `grpc`), picked at
    random in PICK_RANGE so that parallel test sessions are unlikely to pick the same ones."""
    lo, hi = PICK_RANGE
    rng = random.SystemRandom()
    for _ in range(attempts):
        first = rng.randrange(lo, hi - count)
        ports = range(first, first + count)
        if not busy_ports(with_grpc(ports) if grpc else ports):
            return first
    raise RuntimeError(f"no {count} consecutive free ports found in {lo}..{hi}")


def free_port() -> int:
    return free_port_block(1)


def free_port_base(attempts: int = 200) -> int:
    """A port base whose every stack port (weed's gRPC ports included) is free, picked at random."""
    lo, hi = PICK_RANGE
    rng = random.SystemRandom()
    for _ in range(attempts):
        base = rng.randrange(lo, min(hi, MAX_PORT_BASE) - SPAN)
        if not busy_ports(stack_ports_to_check(base)):
            return base
    raise RuntimeError(f"no free port base found in {lo}..{hi}")
