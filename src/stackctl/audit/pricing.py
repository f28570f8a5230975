"""Prices for the cost-relevant changes, from the Azure Retail Prices API, or "not priced".

The API is public and needs no credential: https://learn.microsoft.com/rest/api/cost-management/retail-prices/azure-retail-prices
(`GET https://prices.azure.com/api/retail/prices?$filter=...`, OData filters on `serviceName`,
`armRegionName`, `armSkuName`, `priceType`). What it answered is cached in
`build/prices/retail-prices.json` with the date it was fetched, and reused for PRICE_CACHE_DAYS;
where it cannot be reached (offline, a firewall) and nothing is cached, a change is shown as
"not priced" with the reason. A price is never estimated or made up.

Priced today: virtual machine sizes (`vm_size` of AML compute clusters and VMs): the pay-as-you-go
Linux hourly price of one node in the plan's region, and at `max_node_count` nodes where the plan
sets it. Other cost attributes (SQL SKUs, storage replication, retention) say "not priced: no
price lookup for this attribute", so the reader knows the number is missing, not zero.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RETAIL_PRICES_URL = "https://prices.azure.com/api/retail/prices"
PRICE_CACHE_DAYS = 7
FETCH_TIMEOUT_SECONDS = 5.0

# (OData filter) -> the API's JSON answer; replaced in tests by a recorded answer.
Fetch = Callable[[str], dict[str, Any]]


def fetch_retail_prices(odata_filter: str) -> dict[str, Any]:
    """One page of the Retail Prices API for an OData filter (no credential needed)."""
    url = f"{RETAIL_PRICES_URL}?{urllib.parse.urlencode({'$filter': odata_filter})}"
    with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_SECONDS) as response:  # noqa: S310 (fixed https URL)
        answer: dict[str, Any] = json.load(response)
    return answer


@dataclass(frozen=True)
class Price:
    """An hourly price in the API's currency, with when it was fetched; or why there is none."""

    hourly: float | None
    currency: str | None
    fetched: str | None
    not_priced: str | None = None

    def describe(self, nodes: int | None = None) -> str:
        if self.hourly is None:
            return f"not priced: {self.not_priced}"
        text = f"{self.currency} {self.hourly:.4f}/hour per node"
        if nodes:
            text += f", {self.currency} {self.hourly * nodes:.2f}/hour at {nodes} nodes"
        return f"{text} (Azure Retail Prices, fetched {self.fetched})"


class PriceBook:
    """VM hourly prices by (region, size), from the cache or the API; one failed call stops the
    lookups of this run (offline, every further call would wait for its timeout too)."""

    def __init__(
        self, cache_file: Path | None, fetch: Fetch = fetch_retail_prices, today: dt.date | None = None
    ):
        self.cache_file = cache_file
        self.fetch = fetch
        self.today = today or dt.date.today()
        self.unreachable: str | None = None
        self.cache: dict[str, Any] = self._load()

    def _load(self) -> dict[str, Any]:
        if self.cache_file is None or not self.cache_file.is_file():
            return {}
        try:
            data: dict[str, Any] = json.loads(self.cache_file.read_text(encoding="utf-8"))
        except ValueError:
            return {}
        return data

    def vm_hourly(self, region: str, size: str) -> Price:
        key = f"vm/{region.lower()}/{size.lower()}"
        cached = self.cache.get(key)
        if cached and (self.today - dt.date.fromisoformat(cached["fetched"])).days <= PRICE_CACHE_DAYS:
            return Price(cached["hourly"], cached["currency"], cached["fetched"])
        if self.unreachable:
            return Price(None, None, None, self.unreachable)
        odata = (
            "serviceName eq 'Virtual Machines' and priceType eq 'Consumption' "
            f"and armRegionName eq '{region.lower()}' and armSkuName eq '{size}'"
        )
        try:
            answer = self.fetch(odata)
        except (OSError, ValueError) as exc:
            self.unreachable = f"prices.azure.com not reachable ({type(exc).__name__})"
            return Price(None, None, None, self.unreachable)
        item = _linux_pay_as_you_go(answer.get("Items", []))
        if item is None:
            return Price(None, None, None, f"no pay-as-you-go Linux price for {size} in {region}")
        self.cache[key] = {
            "hourly": float(item["retailPrice"]),
            "currency": str(item.get("currencyCode", "USD")),
            "fetched": self.today.isoformat(),
        }
        self._save()
        return Price(self.cache[key]["hourly"], self.cache[key]["currency"], self.cache[key]["fetched"])

    def _save(self) -> None:
        if self.cache_file is not None:
            self.cache_file.parent.mkdir(parents=True, exist_ok=True)
            self.cache_file.write_text(
                json.dumps(self.cache, indent=2, sort_keys=True) + "\n", encoding="utf-8"
            )


def _linux_pay_as_you_go(items: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The hourly Linux on-demand meter: not Windows, not Spot, not Low Priority."""
    for item in items:
        product = str(item.get("productName", ""))
        meter = str(item.get("meterName", ""))
        if (
            item.get("unitOfMeasure") == "1 Hour"
            and "Windows" not in product
            and not any(word in meter for word in ("Spot", "Low Priority"))
        ):
            return item
    return None


def priced_costs(costs: tuple[Any, ...], plan: Any, book: PriceBook) -> tuple[Any, ...]:
    """The cost rows with the price of each VM size set (stackctl.audit.analysis.CostChange)."""
    region = _region(plan)
    after_of = {rc.address: rc.change.after for rc in plan.resource_changes}
    priced = []
    for cost in costs:
        size = cost.after.strip('"')
        if cost.attribute.split(".")[-1] != "vm_size" or cost.after in ("(removed)",) or not size:
            priced.append(cost)
            continue
        if region is None:
            priced.append(dataclasses.replace(cost, price="not priced: the plan names no region (location)"))
            continue
        nodes = _first(after_of.get(cost.address), "max_node_count")
        price = book.vm_hourly(region, size)
        priced.append(
            dataclasses.replace(cost, price=price.describe(nodes if isinstance(nodes, int) else None))
        )
    return tuple(priced)


def _region(plan: Any) -> str | None:
    variable = plan.variables.get("location")
    value = variable.value if variable is not None else None
    return value if isinstance(value, str) and value else None


def _first(value: Any, key: str) -> Any:
    """The first value of `key` anywhere in a nested value (scale_settings[0].max_node_count)."""
    if isinstance(value, dict):
        if key in value:
            return value[key]
        for child in value.values():
            found = _first(child, key)
            if found is not None:
                return found
    if isinstance(value, list):
        for child in value:
            found = _first(child, key)
            if found is not None:
                return found
    return None
