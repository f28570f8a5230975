"""The exact ODBC connection string and pre-connect attributes that every Azure SQL path hands pyodbc.

Rule (Microsoft, "Authenticating with an access token"): a connection string used with
SQL_COPT_SS_ACCESS_TOKEN must not contain UID, PWD, Authentication or Trusted_Connection, else
msodbcsql answers FA005 ("Cannot use Access Token with any of the following options").
https://learn.microsoft.com/sql/connect/odbc/using-azure-active-directory#authenticating-with-an-access-token
SQLAlchemy's pyodbc dialect adds `Trusted_Connection=Yes` whenever the URL has no user; its own
Azure recipe removes it in the `do_connect` hook (sqlalchemy/dialects/mssql/pyodbc.py, "Connecting to
databases with access tokens"). pyodbc cannot load here (no unixODBC), so a stand-in `pyodbc` module
records what SQLAlchemy's real dialect, pool and our hook finally pass to `pyodbc.connect`.
"""

from __future__ import annotations

import ast
import re
import struct
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from demand_forecast.errors import UsageError
from demand_forecast.reporting import database as reporting_db

REPO = Path(__file__).resolve().parents[2]
FORBIDDEN = re.compile(r"(?:^|;)\s*(UID|PWD|Authentication|Trusted_Connection)\s*=", re.IGNORECASE)


class Connected(Exception):
    """Raised by the stand-in pyodbc.connect: carries what pyodbc would have been handed."""

    def __init__(self, args: tuple[Any, ...], kwargs: dict[str, Any]):
        super().__init__("pyodbc.connect called")
        self.connect_args = args
        self.connect_kwargs = kwargs


class Token:
    def __init__(self, token: str):
        self.token = token


class Credential:
    def __init__(self) -> None:
        self.scopes: list[str] = []

    def get_token(self, scope: str) -> Token:
        self.scopes.append(scope)
        return Token("eyJ-test-token")


@pytest.fixture
def fake_pyodbc(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    module = types.ModuleType("pyodbc")

    def connect(*args: Any, **kwargs: Any) -> Any:
        raise Connected(args, kwargs)

    module.connect = connect  # type: ignore[attr-defined]
    module.version = "5.5.0"  # type: ignore[attr-defined]
    module.paramstyle = "qmark"  # type: ignore[attr-defined]
    module.Error = type("Error", (Exception,), {})  # type: ignore[attr-defined]
    module.Cursor = type("Cursor", (), {"nextset": lambda self: None})  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pyodbc", module)
    return module


def _handed(engine: Any) -> Connected:
    with pytest.raises(Connected) as caught:
        engine.connect()
    return caught.value


def _assert_token_only(connected: Connected, server: str, database: str) -> None:
    (dsn,) = connected.connect_args
    assert not FORBIDDEN.search(dsn), f"FA005: token beside a login option in {dsn!r}"
    for part in (f"Server={server}", f"Database={database}", "Encrypt=yes", "TrustServerCertificate=no"):
        assert f";{part};" in f"{dsn};", dsn
    assert dsn.startswith("DRIVER={ODBC Driver 18 for SQL Server};"), dsn
    encoded = "eyJ-test-token".encode("utf-16-le")
    expected = struct.pack(f"<I{len(encoded)}s", len(encoded), encoded)
    assert connected.connect_kwargs["attrs_before"] == {reporting_db.SQL_COPT_SS_ACCESS_TOKEN: expected}


@pytest.mark.parametrize(
    ("server", "database"),
    [
        ("sql-forecast-dev.database.windows.net", "reporting"),
        ("sql-forecast-prod.database.windows.net", "reporting-prod"),
        ("sql-x.privatelink.database.windows.net", "db_2"),
    ],
)
def test_publish_url_hands_pyodbc_a_token_only_connection_string(
    fake_pyodbc: types.ModuleType, server: str, database: str
) -> None:
    credential = Credential()
    db = reporting_db.open_database(f"mssql://{server}/{database}", credential)
    _assert_token_only(_handed(db.engine), server, database)
    assert credential.scopes == ["https://database.windows.net/.default"]


def test_failed_run_record_uses_the_same_token_only_connection(
    fake_pyodbc: types.ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from demand_forecast import publish

    seen: list[Connected] = []
    real_publish = publish.publish

    def spy(db: Any, inputs: Any, telemetry: Any) -> Any:
        seen.append(_handed(db.engine))
        return real_publish(db, inputs, telemetry)

    monkeypatch.setattr(publish, "publish", spy)
    monkeypatch.setattr(reporting_db, "job_credential", Credential)
    monkeypatch.setenv(publish.PIPELINE_ENV, "scoring")
    monkeypatch.setenv(publish.RUN_ID_ENV, "run-42")
    monkeypatch.setenv(
        publish.REPORTING_DATABASE_ENV, "mssql://sql-forecast-dev.database.windows.net/reporting"
    )
    message = publish.record_failed_step("score", [tmp_path], "boom", telemetry=None)
    assert seen, message
    _assert_token_only(seen[0], "sql-forecast-dev.database.windows.net", "reporting")


def test_deploy_sql_step_hands_pyodbc_a_token_only_connection_string(fake_pyodbc: types.ModuleType) -> None:
    import json

    from stackctl.aml.stack_output import parse_stack_output
    from stackctl.cloud_stack import _azure_sql_executor

    stack = parse_stack_output(
        json.loads((REPO / "tests/stackctl/data/stack_output_dev.json").read_text(encoding="utf-8")),
        where="test",
    )
    execute = _azure_sql_executor(stack, Credential())
    with pytest.raises(Connected) as caught:
        execute(["SELECT 1"])
    _assert_token_only(caught.value, stack.sql.server_fqdn, stack.sql.database_name)


@pytest.mark.parametrize(
    "added",
    ["Trusted_Connection=yes", "UID=admin", "Authentication=ActiveDirectoryMsi"],
)
def test_a_login_option_beside_the_token_is_refused_before_pyodbc(
    fake_pyodbc: types.ModuleType, monkeypatch: pytest.MonkeyPatch, added: str
) -> None:
    """Whatever adds a login option (a future dialect, a URL query), the hook refuses it clearly."""
    from sqlalchemy.connectors.pyodbc import PyODBCConnector

    original = PyODBCConnector.create_connect_args

    def with_login(self: Any, url: Any) -> Any:
        cargs, cparams = original(self, url)
        return [cargs[0] + ";" + added], cparams

    monkeypatch.setattr(PyODBCConnector, "create_connect_args", with_login)
    engine = reporting_db.azure_sql_engine("s.database.windows.net", "db", Credential())
    with pytest.raises(UsageError, match="FA005"):
        engine.connect()


# Every engine on Azure SQL comes from reporting.database.azure_sql_engine, so the rule above holds for all.
_ENGINE_FACTORIES = {"create_engine", "create_async_engine", "make_url", "engine_from_config"}
_ALLOWED = {("src/model/demand_forecast/reporting/database.py", "azure_sql_engine")}


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _function_of(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> str:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            return node.name
    return "<module>"


def _sqlite_literal(arg: ast.expr) -> bool:
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value.startswith("sqlite")
    if isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
        return str(arg.values[0].value).startswith("sqlite")
    return False


def _factory_name(call: ast.Call) -> str:
    """`create_engine`, `make_url`, ... or `URL.create`; "" for any other call."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    if name != "create":
        return name if name in _ENGINE_FACTORIES else ""
    owner = func.value if isinstance(func, ast.Attribute) else None
    owner_name = getattr(owner, "id", "") or getattr(owner, "attr", "")
    return "URL.create" if owner_name == "URL" else ""


def mssql_engine_sites(source: str, filename: str) -> list[str]:
    """Places that may build an mssql engine or URL outside the one allowed function: a call of an
    engine/URL factory whose first argument is not a literal sqlite URL, or any string naming the
    mssql dialect with a driver (`mssql+...`)."""
    tree = ast.parse(source, filename)
    parents = _parents(tree)
    found: list[str] = []
    for node in ast.walk(tree):
        if (filename, _function_of(node, parents)) in _ALLOWED:
            continue
        if isinstance(node, ast.Call) and _factory_name(node):
            if not (node.args and _sqlite_literal(node.args[0])):
                found.append(f"{filename}:{node.lineno} {_factory_name(node)}(...)")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "mssql+" in node.value:
            found.append(f"{filename}:{node.lineno} {node.value!r}")
    return found


def test_every_azure_sql_engine_is_built_by_azure_sql_engine() -> None:
    sites: list[str] = []
    scanned: list[str] = []
    for path in sorted((REPO / "src").rglob("*.py")):
        relative = path.relative_to(REPO).as_posix()
        scanned.append(relative)
        sites += mssql_engine_sites(path.read_text(encoding="utf-8"), relative)
    # a scan of nothing (a moved folder) would pass: the module that builds the engine was read
    assert "src/model/demand_forecast/reporting/database.py" in scanned, scanned[:5]
    assert not sites, (
        "an engine or URL for Azure SQL built outside demand_forecast.reporting.database.azure_sql_engine "
        f"(the only place that removes Trusted_Connection and adds the token): {sites}"
    )


@pytest.mark.parametrize(
    "snippet",
    [
        'import sqlalchemy as sa\ne = sa.create_engine("mssql+pyodbc://@s/db?driver=x")\n',
        'import sqlalchemy as sa\nu = sa.URL.create("mssql+pyodbc", host="s")\n',
        "from sqlalchemy import create_engine\ndef f(url):\n    return create_engine(url)\n",
        'from sqlalchemy.engine import URL\nu = URL.create(drivername="mssql+pymssql", host="s")\n',
    ],
)
def test_the_engine_site_check_finds_a_second_mssql_engine(snippet: str) -> None:
    assert mssql_engine_sites(snippet, "src/stackctl/elsewhere.py")


def test_the_engine_site_check_lets_sqlite_and_the_one_function_through() -> None:
    assert not mssql_engine_sites('import sqlalchemy as sa\ne = sa.create_engine(f"sqlite:///{p}")\n', "x.py")
    source = (REPO / "src/model/demand_forecast/reporting/database.py").read_text(encoding="utf-8")
    assert not mssql_engine_sites(source, "src/model/demand_forecast/reporting/database.py")
