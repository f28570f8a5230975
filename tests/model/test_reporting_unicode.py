"""Review-22 m1 (kind: *a text column that loses characters on Azure SQL*): every text column of
the reporting schema is NVARCHAR in the T-SQL `stackctl deploy` runs, so store, product and region ids
outside code page 1252 (Azure SQL's default collation SQL_Latin1_General_CP1_CI_AS) are stored as
they are, not as '?'. Alembic renders the DDL offline with SQLAlchemy's mssql dialect (the revisions
deploy runs on an empty schema)."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from demand_forecast.reporting.migration import ALEMBIC_VERSION_TABLE, offline_sql
from demand_forecast.reporting.schema import AZURE_SCHEMAS, reporting_tables


def varchar_columns(statements: list[str]) -> list[str]:
    """`column VARCHAR(n)` (not NVARCHAR) definitions and additions in T-SQL statements."""
    found = []
    for statement in statements:
        found += re.findall(r"\b(\w+) VARCHAR\(\w+\)", statement)
    return found


@pytest.mark.parametrize("schema", AZURE_SCHEMAS)
def test_every_text_column_is_nvarchar_on_azure_sql(schema: str) -> None:
    # Alembic's own version table holds ASCII revision ids ("0003"): its VARCHAR is Alembic's.
    statements = [s for s in offline_sql("mssql", schema).split("GO") if ALEMBIC_VERSION_TABLE not in s]
    assert varchar_columns(statements) == []
    tables = "\n".join(s for s in statements if "CREATE TABLE" in s)
    for column in ("store_id", "product_id", "region", "segment_label", "file_name", "detail"):
        assert re.search(rf"\b{column} NVARCHAR\(\d+\)", tables), column


@pytest.mark.parametrize(
    "text_id",
    ["Łódź-01", "東京-店舗-7", "İstanbul-Kadıköy", "Αθήνα"],
)
def test_ids_outside_code_page_1252_need_nvarchar(text_id: str) -> None:
    # The reason for the rule: these ids have no code page 1252 form (VARCHAR would store '?').
    with pytest.raises(UnicodeEncodeError):
        text_id.encode("cp1252")
    tables = reporting_tables("reporting")
    for table in ("forecasts", "backtest"):
        for column in ("store_id", "product_id"):
            assert isinstance(tables[table].c[column].type, sa.Unicode), (table, column)


@pytest.mark.parametrize(
    "statement",
    [
        "IF OBJECT_ID(N'reporting.forecasts', N'U') IS NULL CREATE TABLE reporting.forecasts "
        "(store_id VARCHAR(64) NOT NULL)",
        "ALTER TABLE reporting.backtest ADD segment_label VARCHAR(200) NOT NULL",
        "CREATE TABLE t (region VARCHAR(max))",
    ],
)
def test_the_check_finds_a_varchar_column(statement: str) -> None:
    assert varchar_columns([statement])
