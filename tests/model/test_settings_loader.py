"""One settings loader for the model and the local stack (demand_forecast.settings.load_yaml_settings):
the same file checks and the same error for the same mistake in either file.

Was: settings.py and local/settings.py each had their own ContextVar workaround, file checks and
error wording (the local one caught pydantic-settings' TypeError to guess that a file was no mapping).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from demand_forecast.errors import UsageError
from demand_forecast.settings import load_settings

from stackctl.errors import StackctlError
from stackctl.local.settings import load_settings as load_local_settings
from stackctl.local.settings import settings_file

BROKEN = [
    ("- a list\n- not a mapping\n", "must hold a mapping"),
    ("just a scalar\n", "must hold a mapping"),
    ("key: [unclosed\n", "is not valid YAML"),
]


@pytest.mark.parametrize(("text", "message"), BROKEN)
def test_the_model_and_the_local_stack_refuse_a_broken_file_alike(
    text: str, message: str, tmp_path: Path
) -> None:
    model_file = tmp_path / "model.yaml"
    model_file.write_text(text, encoding="utf-8")
    with pytest.raises(UsageError, match=message):
        load_settings(model_file)
    local_file = settings_file(tmp_path)
    local_file.parent.mkdir(parents=True)
    local_file.write_text(text, encoding="utf-8")
    with pytest.raises(StackctlError, match=message) as caught:
        load_local_settings(tmp_path)
    assert caught.value.where == str(local_file)


@pytest.mark.parametrize(
    ("model_text", "local_text", "key"),
    [
        ("nn:\n  epohcs: 3\n", "training:\n  epohcs: 3\n", "epohcs"),
        ("evaluate:\n  target_mape: -1\n", "dashboard:\n  series_to_plot: 99\n", "greater than"),
        ("unknown_section: {}\n", "unknown_section: {}\n", "unknown_section"),
    ],
)
def test_a_bad_key_names_itself_in_both(model_text: str, local_text: str, key: str, tmp_path: Path) -> None:
    model_file = tmp_path / "model.yaml"
    model_file.write_text(model_text, encoding="utf-8")
    with pytest.raises(UsageError, match=key):
        load_settings(model_file)
    local_file = settings_file(tmp_path)
    local_file.parent.mkdir(parents=True)
    local_file.write_text(local_text, encoding="utf-8")
    with pytest.raises(StackctlError, match=key if key != "greater than" else "less than or equal"):
        load_local_settings(tmp_path)


def test_a_missing_local_file_means_every_default_and_a_missing_model_overlay_is_an_error(
    tmp_path: Path,
) -> None:
    assert load_local_settings(tmp_path).dashboard.series_to_plot == 4
    with pytest.raises(UsageError, match="cannot read settings file"):
        load_settings(tmp_path / "absent.yaml")
