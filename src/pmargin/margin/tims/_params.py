"""TIMS parameters: read from ``methodologies/tims.toml`` and validated.

Errors name the dotted field, e.g. ``tims.toml: underlyings.SPX``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

from pmargin._params import ParamTable
from pmargin.errors import InputError
from pmargin.instruments import Kind

__all__ = ["SCHEMA_VERSION", "PortfolioType", "ProductGroup", "TimsParams"]

SCHEMA_VERSION = 1
"""Layout version of ``tims.toml`` this code reads."""

_TOP = (
    "schema_version",
    "methodology",
    "assumed",
    "valuation",
    "portfolio_types",
    "underlyings",
    "minimum",
    "product_groups",
)


@dataclass(frozen=True, slots=True)
class PortfolioType:
    """Range of the valuation points of one portfolio type (relative moves, > 0)."""

    name: str
    down: float
    up: float


@dataclass(frozen=True, slots=True)
class ProductGroup:
    """Class groups whose gains offset each other's losses at ``offset`` (in [0, 1])."""

    name: str
    offset: float
    members: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TimsParams:
    """Validated contents of ``tims.toml`` (see that file and docs/margin-tims.md).

    Attributes
    ----------
    points_per_side
        Valuation points on each side of zero (5).
    portfolio_types
        Name -> range.
    underlying_types
        Underlying (upper case) -> portfolio type name.
    default_type
        Portfolio type of any other underlying.
    per_contract
        Minimum in USD per unit of underlying per contract (0.375).
    minimum_kinds
        Contract kinds the minimum applies to.
    product_groups
        The product groups (disjoint).
    assumed
        Dotted paths of values not confirmed in published sources.
    source
        Name of the file read.
    """

    points_per_side: int
    portfolio_types: Mapping[str, PortfolioType]
    underlying_types: Mapping[str, str]
    default_type: str
    per_contract: float
    minimum_kinds: frozenset[Kind]
    product_groups: tuple[ProductGroup, ...]
    assumed: tuple[str, ...]
    source: str

    def portfolio_type(self, underlying: str) -> PortfolioType:
        """Portfolio type of an underlying (its mapping, else the default)."""
        name = self.underlying_types.get(underlying.upper(), self.default_type)
        return self.portfolio_types[name]

    def product_group(self, underlying: str) -> ProductGroup | None:
        """Product group of an underlying, ``None`` when it is in none."""
        for group in self.product_groups:
            if underlying.upper() in group.members:
                return group
        return None

    @classmethod
    def from_table(cls, table: ParamTable) -> TimsParams:
        """Validate a parsed ``tims.toml``.

        Raises
        ------
        InputError
            Naming the first missing, unknown or out-of-range field, or an unknown portfolio
            type.
        """
        table.reject_unknown(_TOP)
        table.check_header(SCHEMA_VERSION, "tims")
        valuation = table.table("valuation")
        valuation.reject_unknown(("source", "points_per_side"))
        valuation.text("source")
        types = _portfolio_types(table.table("portfolio_types"))
        underlyings = table.table("underlyings")
        mapping = {
            key.upper(): underlyings.text(key, choices=tuple(types))
            for key in underlyings.data
            if key != "default"
        }
        default = underlyings.text("default", choices=tuple(types))
        minimum = table.table("minimum")
        minimum.reject_unknown(("source", "per_contract", "kinds"))
        minimum.text("source")
        params = cls(
            points_per_side=valuation.integer("points_per_side", low=1),
            portfolio_types=MappingProxyType(types),
            underlying_types=MappingProxyType(mapping),
            default_type=default,
            per_contract=minimum.number("per_contract", low=0.0, high=1000.0),
            minimum_kinds=_kinds(minimum),
            product_groups=(),
            assumed=table.field_paths("assumed"),
            source=table.where,
        )
        return replace(params, product_groups=_product_groups(table, params))


def _portfolio_types(table: ParamTable) -> dict[str, PortfolioType]:
    types: dict[str, PortfolioType] = {}
    for name in table.data:
        sub = table.table(name)
        sub.reject_unknown(("down", "up"))
        types[name] = PortfolioType(
            name,
            sub.number("down", low=0.0, high=1.0, low_open=True, high_open=True),
            sub.number("up", low=0.0, high=10.0, low_open=True),
        )
    if not types:
        raise InputError(table.field(""), {}, "must define at least one portfolio type")
    return types


def _kinds(table: ParamTable) -> frozenset[Kind]:
    value = table.raw("kinds")
    choices = "|".join(k.value for k in Kind)
    if not isinstance(value, list):
        raise InputError(table.field("kinds"), value, f"must be a list of {choices}")
    kinds = set()
    for i, item in enumerate(value):
        try:
            kinds.add(Kind(str(item)))
        except ValueError:
            raise InputError(
                f"{table.field('kinds')}[{i}]", item, f"is not one of {choices}"
            ) from None
    return frozenset(kinds)


def _product_groups(table: ParamTable, params: TimsParams) -> tuple[ProductGroup, ...]:
    value = table.raw("product_groups", [])
    field = table.field("product_groups")
    if not isinstance(value, list):
        raise InputError(field, value, "must be an array of tables ([[product_groups]])")
    groups: list[ProductGroup] = []
    owner: dict[str, str] = {}
    for i, raw in enumerate(value):
        if not isinstance(raw, Mapping):
            raise InputError(f"{field}[{i}]", raw, "must be a table")
        sub = ParamTable(raw, f"{field}[{i}]")
        sub.reject_unknown(("name", "offset", "members"))
        name = sub.text("name")
        members_raw = sub.raw("members")
        if (
            not isinstance(members_raw, list)
            or not members_raw
            or not all(isinstance(m, str) and m.strip() for m in members_raw)
        ):
            raise InputError(sub.field("members"), members_raw, "must be a list of underlyings")
        members = tuple(m.strip().upper() for m in members_raw)
        kinds = {params.portfolio_type(m).name for m in members}
        if len(kinds) != 1:
            raise InputError(
                sub.field("members"),
                list(members),
                f"must share one portfolio type so their points line up (got {sorted(kinds)})",
            )
        for member in members:
            if member in owner:
                raise InputError(sub.field("members"), member, f"is also in {owner[member]!r}")
            owner[member] = name
        groups.append(ProductGroup(name, sub.number("offset", low=0.0, high=1.0), members))
    return tuple(groups)
