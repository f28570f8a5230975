"""Every registry URI the docs print loads in plain MLflow, against a local MLflow registry.

The champion is the version in stage `Production` (Azure ML's MLflow registry serves stages, not
aliases: demand_forecast.registry), so the docs print `models:/demand-forecast/Production`. Was: the
READMEs printed `models:/demand-forecast@champion`, which plain MLflow cannot load (no alias is set).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from demand_forecast.registry import CHAMPION_STAGE, champion_uri

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted(
    [ROOT / "README.md", *ROOT.glob("src/**/README.md"), *ROOT.glob("docs/**/*.md")],
)
URI = re.compile(r"models:/[^\s`'\")\],]+")
NAME = "demand-forecast"


def printed_uris() -> dict[str, list[str]]:
    """URI -> the docs that print it (placeholders such as `<version>` are not URIs to load)."""
    found: dict[str, list[str]] = {}
    for doc in DOCS:
        for uri in URI.findall(doc.read_text(encoding="utf-8")):
            if "<" not in uri and "{" not in uri:
                found.setdefault(uri.rstrip("."), []).append(str(doc.relative_to(ROOT)))
    return found


def _constant_model() -> object:
    """A pyfunc model that returns its input (mlflow imported here: collection must not pay for it)."""
    import mlflow

    class _Constant(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
        def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
            # Untyped on purpose: MLflow reads predict's type hints as a signature and warns on Any.
            return model_input

    return _Constant()


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A plain MLflow registry holding version 1 of the model in stage Production, as register leaves it."""
    import mlflow
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path_factory.mktemp('registry') / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    with mlflow.start_run():
        mlflow.pyfunc.log_model(name="model", python_model=_constant_model(), registered_model_name=NAME)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.transition_model_version_stage(NAME, "1", CHAMPION_STAGE)
    return uri


def test_the_docs_print_the_champion_as_a_stage_uri() -> None:
    uris = printed_uris()
    assert champion_uri(NAME) in uris
    aliases = {uri: docs for uri, docs in uris.items() if "@" in uri}
    assert aliases == {}, f"alias URIs in the docs (AML serves no aliases; write {champion_uri(NAME)})"


@pytest.mark.slow
@pytest.mark.parametrize("uri", sorted(printed_uris()))
def test_each_uri_the_docs_print_loads_in_plain_mlflow(uri: str, registry: str) -> None:
    import mlflow

    mlflow.set_tracking_uri(registry)
    mlflow.set_registry_uri(registry)
    assert mlflow.pyfunc.load_model(uri) is not None, printed_uris()[uri]


def test_an_alias_uri_is_refused_naming_the_stage_uri(tmp_path: Path) -> None:
    from demand_forecast.errors import UsageError
    from demand_forecast.registry import download_model
    from demand_forecast.settings import load_settings

    with pytest.raises(UsageError, match=r"models:/demand-forecast/Production"):
        download_model(load_settings(), "models:/demand-forecast@champion")
