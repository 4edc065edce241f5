"""Which ONNX Runtime providers inference runs models with, from LINESIGHT_ORT_PROVIDERS and what the
installed ONNX Runtime offers."""

import pytest

from linesight_inference.domain.execution import CPU, CUDA, ProviderUnavailable, plan_execution

pytestmark = pytest.mark.unit

CPU_BUILD = ["AzureExecutionProvider", CPU]
GPU_BUILD = ["TensorrtExecutionProvider", CUDA, CPU]


def test_auto_uses_cuda_with_cpu_behind_it_when_offered():
    plan = plan_execution("auto", GPU_BUILD)
    assert plan.providers == (CUDA, CPU)
    assert plan.chosen == CUDA


def test_auto_uses_cpu_on_a_cpu_build():
    plan = plan_execution("auto", CPU_BUILD)
    assert plan.providers == (CPU,)
    assert plan.unavailable_requested == ()


def test_explicit_list_keeps_its_order_accepts_short_names_and_keeps_cpu_as_fallback():
    plan = plan_execution("tensorrt, cuda", GPU_BUILD, intra_op_threads=4)
    assert plan.providers == ("TensorrtExecutionProvider", CUDA, CPU)
    assert plan.intra_op_threads == 4
    assert plan_execution("CPUExecutionProvider", GPU_BUILD).providers == (CPU,)


def test_explicit_list_reports_what_this_host_lacks():
    plan = plan_execution("cuda,cpu", CPU_BUILD)
    assert plan.providers == (CPU,)
    assert plan.unavailable_requested == (CUDA,)


def test_refuses_when_nothing_asked_for_is_offered():
    with pytest.raises(ProviderUnavailable) as err:
        plan_execution("cuda", CPU_BUILD)
    assert CUDA in str(err.value) and "CPUExecutionProvider" in str(err.value)
