"""dev/prod parity: each differing tfvars value is listed once, by its dotted path."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackctl.checks.parity import tfvars_differences
from stackctl.errors import StackctlError


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_lists_changed_nested_and_one_sided_values(tmp_path: Path) -> None:
    dev = _write(
        tmp_path / "dev.tfvars",
        'environment = "dev"\ngpu = { vm_size = "Standard_NC4as_T4_v3", max_nodes = 2 }\n'
        "keep = 1\nold = true\n",
    )
    prod = _write(
        tmp_path / "prod.tfvars",
        'environment = "prod"\ngpu = { vm_size = "Standard_NC24ads_A100_v4", max_nodes = 2 }\n'
        'keep = 1\nnew = "x"\n',
    )
    found = {d.path: d for d in tfvars_differences(dev, prod)}
    assert set(found) == {"environment", "gpu.vm_size", "new", "old"}
    assert found["environment"].dev == "dev"
    assert found["environment"].prod == "prod"
    assert found["new"].only_in == "prod"
    assert found["old"].only_in == "dev"
    assert (
        found["gpu.vm_size"].describe()
        == "gpu.vm_size: dev='Standard_NC4as_T4_v3' prod='Standard_NC24ads_A100_v4'"
    )


def test_identical_files_have_no_differences(tmp_path: Path) -> None:
    text = 'a = "x"\nb = { c = [1, 2] }\n'
    assert tfvars_differences(_write(tmp_path / "d", text), _write(tmp_path / "p", text)) == []


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StackctlError, match="tfvars file not found"):
        tfvars_differences(tmp_path / "nope.tfvars", tmp_path / "nope2.tfvars")
