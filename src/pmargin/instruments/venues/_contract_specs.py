"""Per-venue contract sizes and native quantity units, read from ``contract_specs.toml``.

A venue symbol says what a contract is, never how big one contract is or in what unit the
venue counts positions. Those conventions are data: ``pmargin/instruments/contract_specs.toml``
holds one table per venue and product (``spot``, ``linear_perpetual``, ``inverse_future``,
``linear_option``, ...) with

* ``quantity_unit``: the venue's native unit of a position quantity, ``base`` (coins),
  ``quote`` (USD notional) or ``contracts``;
* ``contract_currency``: whether ``contract_size`` counts the ``base`` coin or the ``quote``
  currency;
* ``contract_size``: the default size of one contract, in ``contract_currency``;
* ``sizes``: per-underlying overrides, e.g. ``BTC = 10.0``, or per pair where a venue sizes
  one underlying differently by quote, e.g. ``"BTC/USDC" = 0.0001`` (the pair wins).

A product without a default ``contract_size`` only knows the underlyings listed in ``sizes``;
any other underlying is an error rather than a guess. The file is validated when loaded and the
packaged one is cached. A user can load their own file with :func:`load_contract_specs` and
pass it to :func:`pmargin.instruments.parse_symbol`.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pmargin.errors import InputError
from pmargin.instruments._instrument import Kind, QuantityUnit, Settlement
from pmargin.instruments.venues._common import PartError

__all__ = [
    "PRODUCTS",
    "ContractSpecs",
    "ContractTerms",
    "ProductSpec",
    "load_contract_specs",
    "product_key",
]

SCHEMA_VERSION = 1
"""Version of the ``contract_specs.toml`` layout this module reads."""

PRODUCTS = (
    "spot",
    "linear_perpetual",
    "inverse_perpetual",
    "linear_future",
    "inverse_future",
    "linear_option",
    "inverse_option",
)
"""Product tables a venue may define."""

_PRODUCT_KEYS = frozenset({"quantity_unit", "contract_currency", "contract_size", "sizes"})
_CONTRACT_CURRENCIES = ("base", "quote")
_PACKAGED = "contract_specs.toml"
_SIZE_KEY = re.compile(r"[A-Z0-9]+(/[A-Z0-9]+)?")


@dataclass(frozen=True, slots=True)
class ContractTerms:
    """Size and unit conventions of one contract on one venue.

    Attributes
    ----------
    contract_size
        Amount of ``contract_currency`` one contract stands for (> 0).
    contract_currency
        ``"base"`` (the underlying coin) or ``"quote"`` (the quote currency).
    quantity_unit
        The venue's native unit of a position quantity.
    """

    contract_size: float
    contract_currency: str
    quantity_unit: QuantityUnit


@dataclass(frozen=True, slots=True)
class ProductSpec:
    """One product table of ``contract_specs.toml``.

    Attributes
    ----------
    quantity_unit
        The venue's native unit of a position quantity for this product.
    contract_currency
        ``"base"`` or ``"quote"``: what ``contract_size`` counts.
    default_size
        Contract size of underlyings not listed in ``sizes``; ``None`` when the venue sizes
        each underlying differently and unlisted ones must be rejected.
    sizes
        Contract size per underlying code (``"BTC"``) or pair (``"BTC/USDC"``).
    """

    quantity_unit: QuantityUnit
    contract_currency: str
    default_size: float | None
    sizes: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class ContractSpecs:
    """All venues' contract conventions, validated.

    Attributes
    ----------
    venues
        ``{venue: {product: ProductSpec}}``, product names as in :data:`PRODUCTS`.
    source
        Where the table was read from (for messages).
    """

    venues: Mapping[str, Mapping[str, ProductSpec]]
    source: str

    def terms(
        self, venue: str, kind: Kind, settlement: Settlement, underlying: str, quote: str
    ) -> ContractTerms:
        """Contract size and quantity unit of ``underlying``/``quote``'s product on ``venue``.

        The size is the first of: ``sizes["BASE/QUOTE"]``, ``sizes["BASE"]``, the product's
        default ``contract_size``.

        Raises
        ------
        PartError
            If the table has no such product, or no size for this underlying and no default.
        """
        product = product_key(kind, settlement)
        products = self.venues.get(venue)
        if products is None or product not in products:
            raise PartError(
                f"is a {venue} {product.replace('_', ' ')}, for which {self.source} has no "
                f"[{venue}.{product}] table"
            )
        spec = products[product]
        size = spec.sizes.get(f"{underlying}/{quote}", spec.sizes.get(underlying))
        if size is None:
            size = spec.default_size
        if size is None:
            listed = ", ".join(sorted(spec.sizes)) or "none"
            raise PartError(
                f"is {underlying}/{quote}, whose {venue} {product.replace('_', ' ')} "
                f"contract size is not known (listed: {listed}); add it under "
                f"[{venue}.{product}.sizes] in a contract specs file or use an explicit "
                "instrument spec"
            )
        return ContractTerms(
            contract_size=size,
            contract_currency=spec.contract_currency,
            quantity_unit=spec.quantity_unit,
        )


def product_key(kind: Kind, settlement: Settlement) -> str:
    """Name of the product table for ``kind`` and ``settlement`` (``"inverse_future"``)."""
    if kind is Kind.SPOT:
        return "spot"
    return f"{settlement.value}_{kind.value}"


def load_contract_specs(path: str | Path | None = None) -> ContractSpecs:
    """Load and validate a contract specs TOML file (default: the packaged one, cached).

    Parameters
    ----------
    path
        A TOML file laid out like ``pmargin/instruments/contract_specs.toml``; ``None`` for
        the packaged file.

    Raises
    ------
    InputError
        If the file cannot be read or a value is invalid; the field names the table and key.
    """
    if path is None:
        return _packaged_specs()
    return _load_path(str(Path(path).resolve()))


@lru_cache(maxsize=1)
def _packaged_specs() -> ContractSpecs:
    resource = files("pmargin.instruments").joinpath(_PACKAGED)
    text = resource.read_text(encoding="utf-8")
    return _specs_from_text(text, f"pmargin/instruments/{_PACKAGED}")


@lru_cache(maxsize=16)
def _load_path(path: str) -> ContractSpecs:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise InputError("contract_specs", path, f"cannot be read ({error.strerror})") from None
    return _specs_from_text(text, path)


def _specs_from_text(text: str, source: str) -> ContractSpecs:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InputError("contract_specs", source, f"is not valid TOML ({error})") from None
    version = data.pop("schema_version", None)
    if version != SCHEMA_VERSION:
        raise InputError(
            f"{source}:schema_version", version, f"must be {SCHEMA_VERSION} (this pmargin's layout)"
        )
    venues: dict[str, Mapping[str, ProductSpec]] = {}
    for venue, products in data.items():
        if not isinstance(products, dict):
            raise InputError(f"{source}:{venue}", products, "must be a table of products")
        venues[venue] = MappingProxyType(
            {
                name: _product(table, f"{source}:{venue}.{name}")
                for name, table in _known_products(products, f"{source}:{venue}").items()
            }
        )
    return ContractSpecs(venues=MappingProxyType(venues), source=source)


def _known_products(products: dict[str, Any], field: str) -> dict[str, Any]:
    for name in products:
        if name not in PRODUCTS:
            raise InputError(f"{field}.{name}", name, f"is not a product (expected {PRODUCTS})")
    return products


def _product(table: Any, field: str) -> ProductSpec:
    if not isinstance(table, dict):
        raise InputError(field, table, "must be a table")
    for key in table:
        if key not in _PRODUCT_KEYS:
            raise InputError(
                f"{field}.{key}", table[key], f"is not a key ({sorted(_PRODUCT_KEYS)})"
            )
    unit = table.get("quantity_unit")
    try:
        quantity_unit = QuantityUnit(str(unit))
    except ValueError:
        choices = "|".join(u.value for u in QuantityUnit)
        raise InputError(f"{field}.quantity_unit", unit, f"must be one of {choices}") from None
    currency = table.get("contract_currency")
    if currency not in _CONTRACT_CURRENCIES:
        raise InputError(f"{field}.contract_currency", currency, "must be base or quote")
    default = table.get("contract_size")
    default_size = None if default is None else _size(default, f"{field}.contract_size")
    sizes_table = table.get("sizes", {})
    if not isinstance(sizes_table, dict):
        raise InputError(f"{field}.sizes", sizes_table, "must be a table of underlying = size")
    sizes = {code: _size(value, f"{field}.sizes.{code}") for code, value in sizes_table.items()}
    for code in sizes:
        if not _SIZE_KEY.fullmatch(code):
            raise InputError(
                f"{field}.sizes", code, "must be an upper-case currency code or BASE/QUOTE pair"
            )
    if default_size is None and not sizes:
        raise InputError(field, table, "needs a contract_size, a sizes table, or both")
    return ProductSpec(
        quantity_unit=quantity_unit,
        contract_currency=str(currency),
        default_size=default_size,
        sizes=MappingProxyType(sizes),
    )


def _size(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(field, value, "must be a number > 0")
    if not math.isfinite(value) or value <= 0:
        raise InputError(field, value, "must be a finite number > 0")
    return float(value)
