"""Suite-wide test policy: tests that need Azure run only where Azure is reachable (AZURE_TESTS=1)."""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("AZURE_TESTS") == "1":
        return
    skip_azure = pytest.mark.skip(reason="needs Azure: set AZURE_TESTS=1 (the release pipeline does)")
    for item in items:
        if "azure" in item.keywords:
            item.add_marker(skip_azure)
