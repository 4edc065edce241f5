"""How inference shares the CPU between ONNX Runtime threads and concurrent runs, from the two settings."""

import pytest

from linesight_inference.domain.execution import CPU, CUDA, plan_execution, plan_parallelism

pytestmark = pytest.mark.unit

ON_CPU = plan_execution("auto", [CPU])
ON_GPU = plan_execution("auto", [CUDA, CPU])


@pytest.mark.parametrize(
    ("cores", "threads", "runs"), [(1, 1, 1), (2, 1, 2), (4, 1, 4), (8, 2, 4), (16, 4, 4), (6, 1, 4)]
)
def test_automatic_on_the_cpu_shares_the_cores_among_up_to_four_runs(cores, threads, runs):
    p = plan_parallelism(ON_CPU, cores)
    assert (p.threads_per_run, p.concurrent_batches) == (threads, runs)
    assert p.threads_per_run * p.concurrent_batches <= cores


def test_one_setting_given_derives_the_other_and_both_given_are_kept():
    assert plan_parallelism(ON_CPU, 8, intra_op_threads=4) == plan_parallelism(ON_CPU, 8, 4, 2)
    assert plan_parallelism(ON_CPU, 2, intra_op_threads=2).concurrent_batches == 1
    assert plan_parallelism(ON_CPU, 8, concurrent_batches=2).threads_per_run == 4
    p = plan_parallelism(ON_CPU, 2, intra_op_threads=2, concurrent_batches=3)
    assert (p.threads_per_run, p.concurrent_batches) == (2, 3)


def test_an_accelerator_runs_one_batch_at_a_time_with_onnxruntime_threads():
    p = plan_parallelism(ON_GPU, 16)
    assert (p.threads_per_run, p.concurrent_batches) == (0, 1)
    assert plan_parallelism(ON_GPU, 16, intra_op_threads=2, concurrent_batches=2).concurrent_batches == 2


def test_a_solo_session_on_every_core_when_runs_are_narrower_than_the_machine():
    assert plan_parallelism(ON_CPU, 2, solo_session=True).solo_threads == 2
    assert plan_parallelism(ON_CPU, 16, solo_session=True).solo_threads == 16
    # runs use every core already
    assert plan_parallelism(ON_CPU, 2, intra_op_threads=2, solo_session=True).solo_threads == 0
    assert plan_parallelism(ON_CPU, 2).solo_threads == 0  # off unless asked for
    assert plan_parallelism(ON_GPU, 16, solo_session=True).solo_threads == 0
