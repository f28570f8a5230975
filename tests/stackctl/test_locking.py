"""One locking tool for every environment (stackctl.locking: `uv pip compile`): the Makefile's lock
targets drive it, each pin file says how it is made, uv itself is pinned, and (network) each lock is
exactly what its inputs resolve to. The AML images' lock has its own tests (test_aml_runtime.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from stackctl import locking
from stackctl.aml.environment import RUNTIME_LOCK
from stackctl.errors import StackctlError
from stackctl.locking import LOCKS, IndexUnreachable, read_pins, torch_source, uv_compile

REPO = Path(__file__).resolve().parents[2]


def test_every_lock_target_runs_the_one_tool_and_no_other() -> None:
    make = shutil.which("make")
    assert make, "make is needed to read the Makefile's own recipes"
    recipes = {}
    for target in ("lock", "lock-aml", "lock-tools"):
        dry = subprocess.run(
            [make, "-n", "-o", "setup", target], cwd=REPO, capture_output=True, text=True, check=True
        )
        recipes[target] = dry.stdout
    assert "-m stackctl.locking main" in recipes["lock"]
    assert "-m stackctl.locking tools" in recipes["lock-tools"]
    assert "-m stackctl.aml.resolve" in recipes["lock-aml"]
    for recipe in recipes.values():
        assert "pip freeze" not in recipe
        assert "lock.sh" not in recipe
        assert "pip install" not in recipe
    assert not (REPO / "scripts" / "lock.sh").exists()


def test_each_pin_file_says_it_is_made_by_uv_and_how_to_regenerate_it() -> None:
    files = {spec.path: target for target, spec in (("lock", LOCKS["main"]), ("lock-tools", LOCKS["tools"]))}
    files[RUNTIME_LOCK] = "lock-aml"
    for path, target in files.items():
        header = [
            line for line in (REPO / path).read_text(encoding="utf-8").splitlines() if line.startswith("#")
        ]
        assert any(f"make {target}" in line and "uv pip compile" in line for line in header), path
    setup = (REPO / "scripts" / "setup.sh").read_text(encoding="utf-8")
    assert LOCKS["main"].path in setup
    assert LOCKS["tools"].path in setup


def test_uv_is_pinned_and_the_installed_one_is_that_version() -> None:
    pinned = read_pins((REPO / LOCKS["main"].path).read_text(encoding="utf-8"))["uv"]
    version = subprocess.run([locking.uv_binary(), "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.split()[1] == pinned


def test_pins_are_read_by_canonical_name_and_editable_lines_are_not_pins() -> None:
    text = "# header\n-e file:///repo/src/model\nPyYAML==6.0.3\nimportlib_metadata==9.1.0  # why\n\n"
    assert read_pins(text) == {"pyyaml": "6.0.3", "importlib-metadata": "9.1.0"}


def test_torch_comes_from_its_index_or_a_wheel_folder_never_silently_from_pypi(tmp_path: Path) -> None:
    assert torch_source(tmp_path) == ["--find-links", str(tmp_path)]
    assert torch_source() == [
        "--extra-index-url",
        locking.TORCH_CPU_INDEX,
        "--index-strategy",
        "unsafe-best-match",
    ]
    assert any(line == locking.TORCH_CPU for line in LOCKS["main"].requirements)


@pytest.mark.parametrize("index", ["http://127.0.0.1:9/simple", "http://unreachable.invalid/simple"])
def test_an_unreachable_index_is_said_as_such_not_as_a_conflict(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, index: str
) -> None:
    monkeypatch.setattr(locking, "PYPI", index)
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path))  # dropped: uv's own variables never reach it
    with pytest.raises(IndexUnreachable):
        uv_compile(["six"], extra=["--cache-dir", str(tmp_path / "cache")], http_retries=0)


@pytest.mark.parametrize(("retries", "expected"), [(None, None), (0, "0"), (5, "5")])
def test_uv_retries_are_ours_to_set_never_the_machines(
    monkeypatch: pytest.MonkeyPatch, retries: int | None, expected: str | None
) -> None:
    """A UV_HTTP_RETRIES of this machine never reaches uv; `http_retries` does (0: the tests above
    learn "unreachable" without uv's ~9 s of retry back-off)."""
    seen: list[dict[str, str]] = []

    def run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        env = kwargs["env"]
        assert isinstance(env, dict)
        seen.append(env)
        Path(args[args.index("-o") + 1]).write_text("six==1.17.0\n", encoding="utf-8")
        return subprocess.CompletedProcess(args, 0, "", "")

    monkeypatch.setenv("UV_HTTP_RETRIES", "9")
    monkeypatch.setattr(locking.subprocess, "run", run)
    assert uv_compile(["six"], http_retries=retries) == {"six": "1.17.0"}
    assert seen[0].get("UV_HTTP_RETRIES") == expected


def test_a_broken_requirement_is_a_clear_error_naming_the_tool(tmp_path: Path) -> None:
    with pytest.raises(StackctlError, match=r"uv cannot resolve six for CPython 3.11") as caught:
        uv_compile(["six"], extra=["--offline", "--cache-dir", str(tmp_path)])
    assert caught.value.fix


def _resolve_or_skip(name: str) -> tuple[dict[str, str], dict[str, str]]:
    spec = LOCKS[name]
    current = (REPO / spec.path).read_text(encoding="utf-8")
    wheels = os.environ.get("TORCH_WHEELS")
    extra = torch_source(Path(wheels) if wheels else None) if name == "main" else []
    requirements = [line.format(root=REPO.as_posix()) for line in spec.requirements]
    try:
        resolved = uv_compile(
            requirements, python_version=locking.THIS_PYTHON, preferred=current, extra=extra
        )
    except IndexUnreachable as exc:
        pytest.skip(f"the package index is unreachable from here, so the lock is not checked: {exc}")
    return read_pins(current), resolved


@pytest.mark.network
@pytest.mark.parametrize("name", sorted(LOCKS))
def test_each_lock_is_exactly_what_its_inputs_resolve_to(name: str) -> None:
    """Fault kind: a dependency added to a pyproject.toml without `make lock` (installed unpinned), or
    a pin left behind. uv resolves the lock's inputs, preferring its pins: nothing may move."""
    locked, resolved = _resolve_or_skip(name)
    if name == "main":
        resolved["torch"] = resolved["torch"].split("+", 1)[0]
    assert resolved == locked, sorted(set(locked.items()) ^ set(resolved.items()))
