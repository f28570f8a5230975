"""The Terraform parse cache is keyed by content: copies hit it, any change of text misses it.

Every check (config, schema, docs, wiring) reads .tf files through `hclmodel.parse_file`, so a copy
of the tree a test makes, or a second check over the same files, parses nothing again; an edit
that keeps a file's size and modification time (the fault of a path+mtime key) is still seen.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from stackctl.checks import hclmodel
from stackctl.checks.wiring import Stack

MODULE = """variable "name" {
  type = string
}

resource "azurerm_resource_group" "this" {
  name     = var.name
  location = local.where
}
"""


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[Path]:
    """The files python-hcl2 actually parsed during the test, with a cache of the test's own."""
    monkeypatch.setenv(hclmodel.CACHE_DIR_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(hclmodel, "_PARSED", {})
    seen: list[Path] = []
    real = hclmodel._parse_text

    def counting(text: str, tf_file: Path) -> hclmodel.ParsedFile:
        seen.append(tf_file)
        return real(text, tf_file)

    monkeypatch.setattr(hclmodel, "_parse_text", counting)
    return seen


def _module(folder: Path, text: str = MODULE) -> Path:
    folder.mkdir(parents=True)
    (folder / "main.tf").write_text(text, encoding="utf-8")
    return folder


def test_a_copy_of_a_directory_is_not_parsed_again(parses: list[Path], tmp_path: Path) -> None:
    first = hclmodel.read_dir(_module(tmp_path / "a"))
    copy = tmp_path / "b"
    shutil.copytree(tmp_path / "a", copy)
    second = hclmodel.read_dir(copy)
    assert parses == [tmp_path / "a" / "main.tf"]
    assert second.path == copy
    assert [r.file for r in second.references] == [copy / "main.tf"] * 2  # the copy's own paths
    assert set(second.variables) == set(first.variables) == {"name"}


def test_an_edit_keeping_size_and_mtime_is_seen(parses: list[Path], tmp_path: Path) -> None:
    folder = _module(tmp_path / "m")
    tf_file = folder / "main.tf"
    assert {r.name for r in hclmodel.read_dir(folder).references} == {"name", "where"}
    stat = tf_file.stat()
    tf_file.write_text(MODULE.replace("local.where", "local.other"), encoding="utf-8")  # same length
    os.utime(tf_file, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert tf_file.stat().st_size == stat.st_size
    assert {r.name for r in hclmodel.read_dir(folder).references} == {"name", "other"}


def test_restoring_a_file_reuses_its_parse(parses: list[Path], tmp_path: Path) -> None:
    folder = _module(tmp_path / "m")
    hclmodel.read_dir(folder)
    (folder / "main.tf").write_text(MODULE.replace("var.name", '"fixed"'), encoding="utf-8")
    hclmodel.read_dir(folder)
    (folder / "main.tf").write_text(MODULE, encoding="utf-8")
    restored = hclmodel.read_dir(folder)
    assert len(parses) == 2  # the original and the edit; the restored text was parsed before
    assert {r.name for r in restored.references} == {"name", "where"}


def test_another_process_reads_the_parse_from_disk(parses: list[Path], tmp_path: Path) -> None:
    folder = _module(tmp_path / "m")
    hclmodel.read_dir(folder)
    hclmodel._PARSED.clear()  # what a new process (another xdist worker, the next validate) starts with
    again = hclmodel.read_dir(folder)
    assert len(parses) == 1
    assert set(again.blocks[0].body) >= {"name", "location"}
    assert list((tmp_path / "cache" / "hcl").rglob("*.json"))


def test_a_caller_changing_its_model_leaves_the_next_read_alone(parses: list[Path], tmp_path: Path) -> None:
    folder = _module(tmp_path / "m")
    hclmodel.read_dir(folder).blocks[0].body["name"] = "changed"
    assert hclmodel.read_dir(folder).blocks[0].body["name"] == "${var.name}"


def test_unparsable_text_is_cached_as_an_error_and_still_reported(parses: list[Path], tmp_path: Path) -> None:
    folder = _module(tmp_path / "m", 'resource "x" "y" {\n  name = \n}\n')
    first = hclmodel.read_dir(folder)
    second = hclmodel.read_dir(folder)
    assert len(parses) == 1
    assert [f.message.startswith("cannot parse HCL") for f in first.errors + second.errors] == [True, True]


def test_the_wiring_check_shares_the_parse_of_the_other_checks(parses: list[Path], root: Path) -> None:
    for directory in [root / "infra", *sorted(p for p in (root / "modules").iterdir() if p.is_dir())]:
        hclmodel.read_dir(directory)
    parsed = len(parses)
    assert parsed > 0
    Stack(root / "infra")
    assert len(parses) == parsed  # infra/ and every module it calls were parsed by read_dir already
