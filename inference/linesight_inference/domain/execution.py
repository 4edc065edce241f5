"""Which ONNX Runtime execution providers the service uses, chosen once at start from the setting and from
what the installed ONNX Runtime offers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"

# Short names accepted in LINESIGHT_ORT_PROVIDERS, next to the full ONNX Runtime names.
ALIASES = {
    "cpu": CPU,
    "cuda": CUDA,
    "tensorrt": "TensorrtExecutionProvider",
    "rocm": "ROCMExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "directml": "DmlExecutionProvider",
}


class ProviderUnavailable(ValueError):
    """None of the providers asked for is offered by the installed ONNX Runtime."""


@dataclass(frozen=True)
class ExecutionPlan:
    preference: str
    providers: tuple[str, ...]  # in the order sessions will be given them; the first one runs the model
    available: tuple[str, ...]
    unavailable_requested: tuple[str, ...]  # asked for in the setting but not offered here
    intra_op_threads: int  # 0: ONNX Runtime's default

    @property
    def chosen(self) -> str:
        return self.providers[0]


def _provider_name(token: str) -> str:
    return ALIASES.get(token.lower(), token)


def plan_execution(preference: str, available: Sequence[str], intra_op_threads: int = 0) -> ExecutionPlan:
    """Resolve the provider setting against the providers this ONNX Runtime build offers.

    "auto" picks CUDA when offered, with CPU behind it for the operators CUDA does not implement. An explicit
    list keeps the offered providers in the order given and refuses to start when none is offered, so a GPU
    host that lost its CUDA runtime fails loudly instead of silently serving on CPU.
    """
    offered = tuple(available)
    wanted = preference.strip()
    if wanted.lower() in ("", "auto"):
        return ExecutionPlan(
            "auto", (CUDA, CPU) if CUDA in offered else (CPU,), offered, (), intra_op_threads
        )

    requested = [_provider_name(t.strip()) for t in wanted.split(",") if t.strip()]
    providers: tuple[str, ...] = tuple(dict.fromkeys(p for p in requested if p in offered))
    missing = tuple(dict.fromkeys(p for p in requested if p not in offered))
    if not providers:
        raise ProviderUnavailable(
            f"None of the ONNX Runtime providers asked for in LINESIGHT_ORT_PROVIDERS={preference!r} "
            f"({', '.join(missing)}) is available; this ONNX Runtime offers {', '.join(offered) or 'none'}."
        )
    if CPU not in providers and CPU in offered:
        providers = (*providers, CPU)  # operators the accelerator lacks fall back to CPU
    return ExecutionPlan(wanted, providers, offered, missing, intra_op_threads)


@dataclass(frozen=True)
class Parallelism:
    """How the CPU is shared: ONNX Runtime threads inside one run, and runs of one model at the same time."""

    threads_per_run: int  # intra-op threads of each session; 0 lets ONNX Runtime decide
    concurrent_batches: int
    solo_threads: int = 0  # threads of the second session for a batch alone on the CPU; 0: none


def plan_parallelism(
    plan: ExecutionPlan,
    cpu_count: int,
    intra_op_threads: int = 0,
    concurrent_batches: int = 0,
    solo_session: bool = False,
) -> Parallelism:
    """Resolve the two settings; 0 means automatic.

    On an accelerator the device does the work: ONNX Runtime's default threads, one run at a time. On the
    CPU, one run spread over every core spends much of its time waking threads for small operators, and
    leaves no core for decoding images and HTTP; a few runs side by side, each on a share of the cores,
    keep every core busy with less overhead (measured in bench/inference.py). Automatic on the CPU: at most
    four runs at once, each with cores // runs threads (2 cores: 2 runs of 1 thread; 16 cores: 4 of 4).
    When runs are narrower than the machine, `solo_session` adds a session on every core for a batch that
    has the CPU to itself, so a lone request is not slowed down by the sharing."""
    cores = max(1, cpu_count)
    if plan.chosen != CPU:
        return Parallelism(intra_op_threads, concurrent_batches or 1)
    if intra_op_threads and concurrent_batches:
        threads, runs = intra_op_threads, concurrent_batches
    elif intra_op_threads:
        threads, runs = intra_op_threads, max(1, cores // intra_op_threads)
    else:
        runs = concurrent_batches or min(4, cores)
        threads = max(1, cores // runs)
    solo = cores if solo_session and threads < cores else 0
    return Parallelism(threads, runs, solo)
