"""Map a general pmargin book onto PMRM_2 markets: which columns and balances go where.

PMRM_2 margins one market (underlying) of one subaccount, holding USDC cash, one perpetual,
USDC-settled options and collateral. A pmargin account may hold several underlyings, so it is
margined as one PMRM_2 market per underlying (one risk unit each, in USD):

- **instruments**: linear (quote-settled) perpetuals and options of the underlying. Inverse
  (coin-settled) contracts, dated futures and spot instruments have no PMRM_2 form
  (:func:`pmrm2_margins`; the model's ``capabilities`` raise an
  :class:`~pmargin.errors.InputError` naming the instrument and :data:`PMRM2_LIMIT`).
- **cash**: balances of ``[book] cash_assets`` (USD, USDC, USDT), at their USD prices. Cash
  never changes a requirement (it is in Derive's MtM and in pmargin's equity alike).
- **risk-cancelling collateral** of underlying ``U``: balances of the coin ``U`` itself and of
  assets whose ``[collaterals.<ASSET>]`` table says ``risk_cancelling = true`` and
  ``underlying = "U"`` (``underlying`` defaults to the asset's own name). They are shocked with
  ``U``'s scenarios and sit in ``U``'s risk unit, whether or not the account trades ``U``.
- **other collateral**: every other balance, valued at its USD price with the haircuts of its
  ``[collaterals.<ASSET>]`` table; charged in one account-level unit (underlying ``"*"``).

An asset that is neither cash nor listed in ``[collaterals]`` is risk-cancelling for itself
with no haircut when the market has an index price for it (it is a coin), else an
:class:`~pmargin.errors.InputError` asking for its table. The classification depends only on
the parameters and the market, never on the other accounts of the book, so margining accounts
together or apart gives the same numbers.

:func:`unit_portfolio` builds the engine's :class:`Pmrm2Portfolio` of one account and
underlying from these rules (the reference the vectorised model is tested against).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from pmargin._params import ParamTable
from pmargin._typing import FloatArray, IntArray
from pmargin.book import BookArrangement
from pmargin.errors import InputError, MarketDataError
from pmargin.instruments import Instrument, Kind
from pmargin.margin.pmrm2._parameters import CollateralParameters, Pmrm2Parameters
from pmargin.margin.pmrm2._portfolio import (
    Collaterals,
    ExpiryArrays,
    OptionArrays,
    Pmrm2Portfolio,
)
from pmargin.margin.pmrm2._stages import OptionPrecompute, ScenarioArrays, precompute_options
from pmargin.market import MarketSnapshot
from pmargin.timeutil import SECONDS_PER_YEAR
from pmargin.valuation import ResolvedInstruments

__all__ = [
    "PMRM2_LIMIT",
    "BookSettings",
    "ExpiryGroup",
    "UnitColumns",
    "collateral_roles",
    "group_precompute",
    "pmrm2_margins",
    "unit_columns",
    "unit_portfolio",
]


_CASH = ("USD", "USDC", "USDT")
_STABLE = "USDC"


@dataclass(frozen=True, slots=True)
class BookSettings:
    """How balances and feeds of a general book map to PMRM_2 (the ``[book]`` table).

    Attributes
    ----------
    cash_assets
        Assets counted as cash (upper case).
    stable_asset
        The cash stablecoin whose USD price is PMRM_2's ``stable_price`` (peg loss).
    feed_confidence
        Confidence of every oracle feed, in [0, 1]; below ``conf_threshold`` the oracle
        contingency applies. 1 (no contingency) by default.
    collateral_underlying
        Asset -> the underlying it cancels risk of (assets listed here are those whose
        ``[collaterals]`` table names one; others cancel their own underlying).
    """

    cash_assets: tuple[str, ...] = _CASH
    stable_asset: str = _STABLE
    feed_confidence: float = 1.0
    collateral_underlying: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_table(cls, table: ParamTable) -> BookSettings:
        """Read the optional ``[book]`` table and the ``underlying`` key of each collateral."""
        book = table.table("book", {})
        book.reject_unknown(("cash_assets", "stable_asset", "feed_confidence"))
        cash = book.raw("cash_assets", list(_CASH))
        if isinstance(cash, str) or not isinstance(cash, list | tuple):
            raise InputError(book.field("cash_assets"), cash, "must be a list of asset codes")
        for i, asset in enumerate(cash):
            if not isinstance(asset, str) or not asset:
                raise InputError(f"{book.field('cash_assets')}[{i}]", asset, "must be a code")
        stable = book.text("stable_asset", _STABLE).upper()
        confidence = book.number("feed_confidence", 1.0, low=0.0, high=1.0)
        underlying: dict[str, str] = {}
        collaterals = table.table("collaterals", {})
        for asset in collaterals.data:
            sub = collaterals.table(asset)
            if "underlying" in sub:
                underlying[asset.upper()] = sub.text("underlying").upper()
        return cls(tuple(a.upper() for a in cash), stable, confidence, underlying)


PMRM2_LIMIT = "Derive's PMRM_2 margins USDC-settled (linear) options and perpetuals only"
"""The one reason for what PMRM_2 cannot margin (the model's ``capabilities.limit``)."""


def pmrm2_margins(instrument: Instrument) -> bool:
    """Whether PMRM_2 has a form for ``instrument``: linear options and perpetuals.

    Inverse (coin-settled) contracts, dated futures and spot instruments have none.
    """
    return not instrument.is_inverse and instrument.kind in (Kind.OPTION, Kind.PERPETUAL)


@dataclass(frozen=True, slots=True)
class CollateralRole:
    """What one balance column is: cash, risk-cancelling for an underlying, or other."""

    asset: str
    kind: str  # "cash" | "risk_cancelling" | "other"
    underlying: str
    params: CollateralParameters


def collateral_roles(
    assets: tuple[str, ...],
    market: MarketSnapshot,
    params: Pmrm2Parameters,
    settings: BookSettings,
) -> tuple[CollateralRole, ...]:
    """Classify each balance column of a book (see the module docstring).

    Raises
    ------
    InputError
        For a non-cash asset without a ``[collaterals]`` table and without an index price.
    """
    roles = []
    for asset in assets:
        code = asset.upper()
        table = params.collaterals.get(code)
        if code in settings.cash_assets:
            roles.append(CollateralRole(code, "cash", "", CollateralParameters(0.0, 0.0)))
            continue
        if table is None:
            if code not in market.index:
                raise InputError(
                    f"balances.{code}",
                    code,
                    "has no PMRM_2 collateral parameters: add a [collaterals."
                    f"{code}] table (mm_haircut, im_haircut, risk_cancelling) to the "
                    "parameter file, or an index price if it is a coin",
                )
            table = CollateralParameters(0.0, 0.0, True)
        underlying = settings.collateral_underlying.get(code, code)
        kind = "risk_cancelling" if table.risk_cancelling else "other"
        roles.append(CollateralRole(code, kind, underlying, table))
    return tuple(roles)


@dataclass(frozen=True, slots=True)
class ExpiryGroup:
    """Options of one underlying, expiry and settlement currency (one PMRM_2 expiry row).

    Attributes
    ----------
    expiry
        Expiry time (UTC).
    columns
        Book columns of the options, shape ``(n,)``.
    seconds
        Seconds to expiry (the book's ACT/365 year fraction x 365 x 86,400).
    forward
        Forward, USD (the first option's resolved forward x its quote's USD price).
    rate
        The settlement currency's rate, decimal per year (the engine floors it at 0).
    """

    expiry: datetime
    columns: IntArray
    seconds: float
    forward: float
    rate: float


@dataclass(frozen=True, slots=True)
class UnitColumns:
    """The book columns and balance columns of one underlying's PMRM_2 market.

    Attributes
    ----------
    underlying
        The underlying.
    perps
        Book columns of its linear perpetuals, shape ``(n_perps,)``.
    groups
        Its options by expiry, in order of first appearance.
    collateral
        Balance columns of its risk-cancelling collateral, shape ``(n_coll,)``.
    """

    underlying: str
    perps: IntArray
    groups: tuple[ExpiryGroup, ...]
    collateral: IntArray

    @property
    def columns(self) -> IntArray:
        """Every instrument column of the unit: perps, then options group by group."""
        parts = [self.perps, *(g.columns for g in self.groups)]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def unit_columns(
    book: BookArrangement, roles: tuple[CollateralRole, ...]
) -> tuple[UnitColumns, ...]:
    """Group the book's columns and risk-cancelling balances by underlying.

    Units are ordered by first appearance among the instruments, then by the balances.
    """
    res = book.resolved
    perps: dict[str, list[int]] = {}
    groups: dict[str, dict[tuple[datetime, str], list[int]]] = {}
    for j, instrument in enumerate(res.instruments):
        u = instrument.underlying.upper()
        perps.setdefault(u, [])
        groups.setdefault(u, {})
        if instrument.kind is Kind.PERPETUAL:
            perps[u].append(j)
        elif instrument.is_option:
            assert instrument.expiry is not None
            key = (instrument.expiry, instrument.settlement_currency)
            groups[u].setdefault(key, []).append(j)
    collateral: dict[str, list[int]] = {}
    for k, role in enumerate(roles):
        if role.kind == "risk_cancelling":
            collateral.setdefault(role.underlying, []).append(k)
            perps.setdefault(role.underlying, [])
            groups.setdefault(role.underlying, {})
    units = []
    for u in perps:
        expiry_groups = []
        for (expiry, _), cols in groups[u].items():
            first = cols[0]
            expiry_groups.append(
                ExpiryGroup(
                    expiry=expiry,
                    columns=np.asarray(cols, dtype=np.int64),
                    seconds=float(res.time[first]) * SECONDS_PER_YEAR,
                    forward=float(res.underlying_usd[first]),
                    rate=float(res.rate[first]),
                )
            )
        units.append(
            UnitColumns(
                u,
                np.asarray(perps[u], dtype=np.int64),
                tuple(expiry_groups),
                np.asarray(collateral.get(u, []), dtype=np.int64),
            )
        )
    return tuple(units)


def group_precompute(
    resolved: ResolvedInstruments,
    groups: Sequence[ExpiryGroup],
    params: Pmrm2Parameters,
    scen: ScenarioArrays,
) -> OptionPrecompute:
    """Precompute stage of one underlying's options, expiry group by expiry group.

    Parameters
    ----------
    resolved
        The instruments the groups' columns index.
    groups
        The underlying's expiry groups (:attr:`UnitColumns.groups`), at least one.
    params, scen
        PMRM_2 parameters and its scenarios as arrays.

    Returns
    -------
    OptionPrecompute
        Per group ``(n_groups,)`` and per option (options in group order, ``(n_options,)``;
        values ``(n_options, n_s + 3)``, USD per base unit): :func:`precompute_options`.
    """
    sizes = np.array([g.columns.size for g in groups])
    cols = np.concatenate([g.columns for g in groups])
    return precompute_options(
        np.array([g.seconds for g in groups]),
        np.zeros(len(groups)),
        np.array([g.forward for g in groups]),
        np.array([g.rate for g in groups]),
        np.repeat(np.arange(len(groups)), sizes),
        resolved.strike[cols] * resolved.quote_usd[cols],
        resolved.is_call[cols],
        resolved.vol[cols],
        params,
        scen,
    )


def stable_price(market: MarketSnapshot, settings: BookSettings) -> float:
    """USD price of the cash stablecoin; 1 (no peg loss) when the market has none."""
    try:
        return market.usd_price(settings.stable_asset)
    except MarketDataError:
        return 1.0


def unit_portfolio(
    book: BookArrangement,
    market: MarketSnapshot,
    row: int,
    unit: UnitColumns,
    roles: tuple[CollateralRole, ...],
    settings: BookSettings,
) -> Pmrm2Portfolio:
    """Build the engine's arrays of one account in one underlying (the reference mapping).

    Amounts are USD: PMRM_2 divides collateral values by ``stable_price``, so each collateral
    is given the price ``usd_price * stable_price`` to keep its value ``amount * usd_price``.
    Cash is the USD value of the account's cash balances (it changes no requirement). Options
    whose quantity is 0 are left out, as Derive holds no zero balances.

    Raises
    ------
    InputError
        When the account holds more than one perpetual of the underlying (the engine holds
        one per market) or a negative risk-cancelling balance.
    """
    res = book.resolved
    q = book.quantity
    conf = settings.feed_confidence
    stable = stable_price(market, settings)
    qrow = np.asarray(q[[row], :].toarray(), dtype=np.float64).reshape(-1)
    urow = np.asarray(book.unrealised[[row], :].toarray(), dtype=np.float64).reshape(-1)
    balances = book.balance_matrix[row]

    held_perps = [int(j) for j in unit.perps if qrow[j] != 0.0]
    if len(held_perps) > 1:
        symbols = [res.instruments[j].symbol for j in held_perps]
        raise InputError("perpetuals", symbols, "must be one per underlying for the engine")
    perp: dict[str, Any] = {}
    if held_perps:
        j = held_perps[0]
        perp = {
            "perp_position": float(qrow[j]),
            "perp_price": float(res.underlying_usd[j]),
            "perp_confidence": conf,
            "perp_unrealised_pnl": float(urow[j] * res.settlement_usd[j]),
        }

    secs: list[float] = []
    fwd: list[float] = []
    rate: list[float] = []
    idx: list[int] = []
    strike: list[float] = []
    call: list[bool] = []
    amount: list[float] = []
    vol: list[float] = []
    for g in unit.groups:
        cols = [int(j) for j in g.columns if qrow[j] != 0.0]
        if not cols:
            continue
        e = len(secs)
        secs.append(g.seconds)
        fwd.append(g.forward)
        rate.append(g.rate)
        for j in cols:
            idx.append(e)
            strike.append(float(res.strike[j] * res.quote_usd[j]))
            call.append(bool(res.is_call[j]))
            amount.append(float(qrow[j]))
            vol.append(float(res.vol[j]))
    n_e = len(secs)
    expiries = ExpiryArrays(
        np.array(secs), np.zeros(n_e), np.array(fwd), np.array(rate), np.full(n_e, conf)
    )
    options = (
        OptionArrays(
            np.array(idx, dtype=np.int64),
            np.array(strike),
            np.array(call, dtype=bool),
            np.array(amount),
            np.array(vol),
        )
        if idx
        else OptionArrays.empty()
    )

    names, amounts, prices, mm, im = [], [], [], [], []
    for k in unit.collateral:
        if balances[k] == 0.0:
            continue
        role = roles[int(k)]
        names.append(role.asset)
        amounts.append(float(balances[k]))
        prices.append(market.usd_price(role.asset) * stable)
        mm.append(role.params.mm_haircut)
        im.append(role.params.im_haircut)
    n_c = len(names)
    collaterals = Collaterals(
        tuple(names),
        np.array(amounts),
        np.array(prices),
        np.full(n_c, conf),
        np.array(mm),
        np.array(im),
        np.ones(n_c, dtype=bool),
    )
    cash_usd = _cash_usd(balances, roles, market)
    return Pmrm2Portfolio(
        spot=market.index_price(unit.underlying),
        spot_confidence=conf,
        stable_price=stable,
        cash=cash_usd,
        expiries=expiries,
        options=options,
        collaterals=collaterals,
        **perp,
    )


def _cash_usd(
    balances: FloatArray, roles: tuple[CollateralRole, ...], market: MarketSnapshot
) -> float:
    return float(
        sum(
            balances[k] * market.usd_price(r.asset) for k, r in enumerate(roles) if r.kind == "cash"
        )
    )
