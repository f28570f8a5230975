"""The training device: a GPU node whose driver torch's CUDA build cannot use fails loudly.

The AML training image carries a CUDA build of torch (src/stackctl/aml/runtime.yaml); on a node
whose NVIDIA driver is older than that build needs, `torch.cuda.is_available()` is simply False and
"auto" would
train on the CPU of a GPU cluster every week without a word. Only a CPU build of torch may fall back.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from demand_forecast.errors import DeviceError

# torch and demand_forecast.models (which imports torch) are imported by the tests, not at module
# import: collecting the suite (`pytest -k one_test`) must not pay torch's import.

DRIVER = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.183.01  Sun May 12 19:39:15 UTC 2024\n"


@pytest.fixture
def gpu_node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import torch
    from demand_forecast import models

    version = tmp_path / "version"
    version.write_text(DRIVER, encoding="utf-8")
    monkeypatch.setattr(models, "NVIDIA_DRIVER_VERSION_FILE", version)
    monkeypatch.setattr(models, "NVIDIA_CONTROL_DEVICE", version)  # any existing path
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    return version


def test_a_cuda_build_on_a_gpu_it_cannot_use_fails_and_names_the_driver(
    gpu_node: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch
    from demand_forecast import models

    monkeypatch.setattr(torch.version, "cuda", "13.0")
    with pytest.raises(DeviceError) as caught:
        models.pick_device("auto")
    assert "535.183.01" in str(caught.value)
    assert ">= 580.65.06" in str(caught.value)


def test_a_container_without_gpu_access_on_a_gpu_host_is_not_blamed_on_the_driver(
    gpu_node: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch
    from demand_forecast import models

    monkeypatch.setattr(torch.version, "cuda", "12.8")
    monkeypatch.setattr(models, "NVIDIA_CONTROL_DEVICE", tmp_path / "no-nvidiactl")
    assert models.pick_device("auto") == torch.device("cpu")


def test_a_cpu_build_on_a_gpu_node_trains_on_the_cpu(gpu_node: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch
    from demand_forecast import models

    monkeypatch.setattr(torch.version, "cuda", None)
    assert models.pick_device("auto") == torch.device("cpu")


def test_asking_for_cuda_without_a_driver_fails_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch
    from demand_forecast import models

    monkeypatch.setattr(models, "NVIDIA_DRIVER_VERSION_FILE", tmp_path / "absent")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DeviceError, match=r"no NVIDIA driver loaded.*Fix: run on a GPU cluster"):
        models.pick_device("cuda")
    assert models.pick_device("auto") == torch.device("cpu")
    assert models.pick_device("cpu") == torch.device("cpu")
