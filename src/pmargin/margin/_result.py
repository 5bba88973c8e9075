"""What every margin model returns: margin per account, per risk unit, per position.

A result is batched: one array entry per account, in the order of ``account_ids``. Amounts of a
risk unit are in that unit's ``currency`` (coin for a coin-settled Deribit S:PM unit, USD for a
cross unit); account totals are in USD, each unit converted at its ``usd_rate``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse

from pmargin._typing import FloatArray, IntArray
from pmargin.book import BookArrangement, require_pandas
from pmargin.errors import InputError
from pmargin.instruments import Instrument
from pmargin.scenarios import RiskMatrixScenario

__all__ = ["MarginResult", "RiskUnitMargin"]


@dataclass(frozen=True, slots=True)
class RiskUnitMargin:
    """Margin of one risk unit for every account.

    A risk unit is the set of positions a methodology margins together: one underlying in one
    settlement currency (Deribit S:PM), one underlying in USD (OKX, Derive), or a class group
    (TIMS). Every array has ``n_accounts`` rows; accounts with nothing in the unit have zeros.

    Attributes
    ----------
    underlying
        The underlying the unit covers (``"BTC"``), or ``"*"`` for a unit spanning several.
    currency
        Currency of every amount below: ``"BTC"`` for coin-margined units, ``"USD"`` otherwise.
    usd_rate
        USD per one unit of ``currency`` at the snapshot (1 for USD); shape ``(n_accounts,)``
        in a book of moved rows (:meth:`~pmargin.book.BookArrangement.moved_rows`), each row
        at its own price.
    initial_margin, maintenance_margin
        Shape ``(n_accounts,)``, in ``currency``, >= 0.
    components
        Name -> shape ``(n_accounts,)`` in ``currency``: the parts the model builds IM from
        (``"worst_loss"``, ``"roll_shock"``, ...); each model's docs say how they combine.
    scenario_labels
        One label per scenario column (empty for models without scenarios).
    scenario_pnl
        Shape ``(n_accounts, n_scenarios)`` in ``currency``: the account's P&L in each scenario
        as the model reduces it (after weights, dampeners and offsets). ``None`` while a
        ``pnl_source`` has not been asked: read :attr:`pnl`, which never is.
    worst_scenario
        Shape ``(n_accounts,)``: column of ``scenario_pnl`` that sets the worst loss, -1 where
        no scenario loses money or the model has no scenarios.
    held
        Shape ``(n_accounts,)`` booleans: the account has a position or collateral in the unit.
    scenarios
        Optional: the :class:`~pmargin.scenarios.RiskMatrixScenario` of each column (spot move,
        vol shock, weight), for risk-matrix displays; empty when the columns are not
        risk-matrix scenarios.
    pnl_source
        Optional: a function that computes ``scenario_pnl`` when it is first read (:attr:`pnl`,
        or pickling), for a model that does not keep ``(n_accounts, n_scenarios)`` vectors
        nobody may read (Deribit S:PM's compiled pass: 1.1 GB at a million accounts).
    """

    underlying: str
    currency: str
    usd_rate: float | FloatArray
    initial_margin: FloatArray
    maintenance_margin: FloatArray
    components: Mapping[str, FloatArray] = field(default_factory=dict)
    scenario_labels: tuple[str, ...] = ()
    scenario_pnl: FloatArray | None = None
    worst_scenario: IntArray | None = None
    held: npt.NDArray[np.bool_] | None = None
    scenarios: tuple[RiskMatrixScenario, ...] = ()
    pnl_source: Callable[[], FloatArray] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        n = self.initial_margin.shape[0]
        set_ = object.__setattr__
        set_(self, "components", MappingProxyType(dict(self.components)))
        if self.scenario_pnl is None and self.pnl_source is None:
            set_(self, "scenario_pnl", np.zeros((n, len(self.scenario_labels))))
        if self.worst_scenario is None:
            set_(self, "worst_scenario", np.full(n, -1, dtype=np.int64))
        if self.held is None:
            set_(self, "held", np.ones(n, dtype=bool))
        if self.scenarios and len(self.scenarios) != len(self.scenario_labels):
            raise InputError(
                "scenarios", len(self.scenarios), "must give one scenario per scenario label"
            )
        if self.scenario_pnl is not None:
            self._check_pnl(self.scenario_pnl)

    def _check_pnl(self, pnl: FloatArray) -> None:
        n = self.initial_margin.shape[0]
        if pnl.shape != (n, len(self.scenario_labels)):
            raise InputError(
                "scenario_pnl.shape",
                pnl.shape,
                f"must be (n_accounts, n_scenarios) = ({n}, {len(self.scenario_labels)})",
            )

    @property
    def pnl(self) -> FloatArray:
        """``scenario_pnl``, never ``None``: shape ``(n_accounts, n_scenarios)``.

        Computed by ``pnl_source`` on the first read where the model gave one, then kept.
        """
        if self.scenario_pnl is None:
            assert self.pnl_source is not None
            pnl = self.pnl_source()
            self._check_pnl(pnl)
            object.__setattr__(self, "scenario_pnl", pnl)
            object.__setattr__(self, "pnl_source", None)
        assert self.scenario_pnl is not None
        return self.scenario_pnl

    def __getstate__(self) -> list[Any]:
        """Pickle's state: every field, ``scenario_pnl`` computed (a source does not travel)."""
        self.pnl  # noqa: B018 - computes scenario_pnl from its source
        return [getattr(self, f.name) for f in fields(self)]

    @property
    def worst(self) -> IntArray:
        """``worst_scenario``, never ``None``: shape ``(n_accounts,)``."""
        assert self.worst_scenario is not None
        return self.worst_scenario

    @property
    def holds(self) -> npt.NDArray[np.bool_]:
        """``held``, never ``None``: shape ``(n_accounts,)``."""
        assert self.held is not None
        return self.held

    def to_dict(self, row: int, *, scenarios: bool = False) -> dict[str, Any]:
        """Return the JSON object of one account's unit (DESIGN.md output contract).

        ``scenarios=True`` adds ``"scenarios"``: each column's label and the account's P&L in
        it (the unit's currency), the vector the worst scenario is read from.
        """
        worst = int(self.worst[row])
        unit: dict[str, Any] = {
            "underlying": self.underlying,
            "currency": self.currency,
            "usd_rate": self.usd_rate,
            "initial_margin": float(self.initial_margin[row]),
            "maintenance_margin": float(self.maintenance_margin[row]),
            "worst_scenario": None if worst < 0 else self.scenario_labels[worst],
            "components": {k: float(v[row]) for k, v in self.components.items()},
        }
        if scenarios:
            unit["scenarios"] = [
                {"label": label, "pnl": float(pnl)}
                for label, pnl in zip(self.scenario_labels, self.pnl[row], strict=True)
            ]
        return unit


@dataclass(frozen=True, slots=True)
class MarginResult:
    """Initial and maintenance margin of every account under one model.

    Attributes
    ----------
    model
        Model name (``"deribit"``, ``"standard"``, ...).
    timestamp
        The market snapshot's time (UTC).
    account_ids
        Row order of every array.
    instruments
        Column order of ``im_contribution`` (the book's unique instruments).
    initial_margin, maintenance_margin
        Shape ``(n_accounts,)``, USD: the sum over risk units of each unit's margin times its
        ``usd_rate`` (plus account-level charges the model documents).
    risk_units
        The units the model margins apart.
    im_contribution
        ``scipy.sparse.csr_array`` of shape ``(n_accounts, n_instruments)``, USD: each
        position's share of the initial margin (for max-loss models, its loss in the binding
        scenario plus its own add-ons). Entries may be negative (hedges).
    im_other
        Shape ``(n_accounts,)``, USD: initial margin not attributable to a position (collateral
        haircuts, charges on balances). ``im_contribution.sum(axis=1) + im_other`` equals
        ``initial_margin`` to rounding.
    currency
        Currency of the account totals: ``"USD"``.
    notes
        One-line notes the model wants shown with the result (Deribit: which reading of its
        unpublished parts it used, on books holding options); empty by default.
    """

    model: str
    timestamp: datetime
    account_ids: tuple[str, ...]
    instruments: tuple[Instrument, ...]
    initial_margin: FloatArray
    maintenance_margin: FloatArray
    risk_units: tuple[RiskUnitMargin, ...]
    im_contribution: Any
    im_other: FloatArray
    currency: str = "USD"
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        n = len(self.account_ids)
        for name in ("initial_margin", "maintenance_margin", "im_other"):
            if getattr(self, name).shape != (n,):
                raise InputError(f"{name}.shape", getattr(self, name).shape, f"must be ({n},)")
        object.__setattr__(self, "im_contribution", sparse.csr_array(self.im_contribution))
        if self.im_contribution.shape != (n, len(self.instruments)):
            raise InputError(
                "im_contribution.shape",
                self.im_contribution.shape,
                f"must be (n_accounts, n_instruments) = ({n}, {len(self.instruments)})",
            )

    @classmethod
    def from_units(
        cls,
        model: str,
        book: BookArrangement,
        units: Sequence[RiskUnitMargin],
        im_contribution: Any,
        im_other: FloatArray | None = None,
    ) -> MarginResult:
        """Assemble a model's result: account totals are the units' margins in USD, summed.

        Parameters
        ----------
        model
            The model's name.
        book
            What was margined (account and instrument order; the timestamp of its market).
        units
            The risk units; account IM and MM are ``sum(unit margin x unit.usd_rate)``.
        im_contribution
            Sparse ``(n_accounts, n_instruments)`` USD contributions.
        im_other
            USD IM not attributed to positions; ``None`` means none (zeros).
        """
        n = book.shape[0]
        im = np.zeros(n)
        mm = np.zeros(n)
        for unit in units:
            im += unit.initial_margin * unit.usd_rate
            mm += unit.maintenance_margin * unit.usd_rate
        return cls(
            model=model,
            timestamp=book.market.timestamp,
            account_ids=book.account_ids,
            instruments=book.instruments,
            initial_margin=im,
            maintenance_margin=mm,
            risk_units=tuple(units),
            im_contribution=im_contribution,
            im_other=np.zeros(n) if im_other is None else im_other,
        )

    @classmethod
    def concat(cls, parts: Sequence[MarginResult]) -> MarginResult:
        """Join the results of a book's consecutive account blocks into the book's result.

        Parameters
        ----------
        parts
            One model's results of consecutive row blocks of one book, first rows first, each
            block holding every column of the book (so every part has the book's instruments
            and the same risk units, scenarios and notes the whole book gives).

        Returns
        -------
        MarginResult
            Every per-account array the parts' rows stacked, values unchanged (USD; unit
            amounts in the unit's currency); ``im_contribution`` stacked row blocks.

        Raises
        ------
        InputError
            No parts, or parts that are not blocks of one book under one model (another
            model, other instruments, other units or scenarios).
        """
        if not parts:
            raise InputError("parts", 0, "must hold at least one result")
        first = parts[0]
        for k, part in enumerate(parts[1:], start=1):
            same = (
                part.model == first.model
                and part.timestamp == first.timestamp
                and part.currency == first.currency
                and part.instruments == first.instruments
                and [_unit_key(u) for u in part.risk_units]
                == [_unit_key(u) for u in first.risk_units]
            )
            if not same:
                raise InputError(
                    f"parts[{k}]", part.model, "is not a row block of the first part's book"
                )
        units = tuple(
            _concat_unit([p.risk_units[u] for p in parts]) for u in range(len(first.risk_units))
        )
        return cls(
            model=first.model,
            timestamp=first.timestamp,
            account_ids=tuple(a for p in parts for a in p.account_ids),
            instruments=first.instruments,
            initial_margin=np.concatenate([p.initial_margin for p in parts]),
            maintenance_margin=np.concatenate([p.maintenance_margin for p in parts]),
            risk_units=units,
            im_contribution=sparse.vstack([p.im_contribution for p in parts], format="csr"),
            im_other=np.concatenate([p.im_other for p in parts]),
            currency=first.currency,
            notes=tuple(dict.fromkeys(n for p in parts for n in p.notes)),
        )

    @property
    def n_accounts(self) -> int:
        """Number of accounts (rows)."""
        return len(self.account_ids)

    def row(self, account_id: str) -> int:
        """Row index of an account id; an unknown id is an :class:`InputError`."""
        try:
            return self.account_ids.index(account_id)
        except ValueError:
            raise InputError("account", account_id, "is not in the book") from None

    def to_frame(self, *, positions: bool = False) -> Any:
        """Return the result as a pandas DataFrame (pandas: the optional extra ``frames``).

        Parameters
        ----------
        positions
            ``False``: one row per account, columns ``account, model, currency,
            initial_margin, maintenance_margin, im_other`` (USD). ``True``: one row per
            position held (a stored entry of ``im_contribution``), columns ``account,
            model, instrument, im_contribution`` (USD), accounts in row order and each
            account's instruments in column order.

        Raises
        ------
        InputError
            pandas is not installed.
        """
        pandas = require_pandas("MarginResult.to_frame")
        ids = np.asarray(self.account_ids, dtype=object)
        if not positions:
            return pandas.DataFrame(
                {
                    "account": ids,
                    "model": self.model,
                    "currency": self.currency,
                    "initial_margin": self.initial_margin,
                    "maintenance_margin": self.maintenance_margin,
                    "im_other": self.im_other,
                }
            )
        matrix = self.im_contribution
        if not matrix.has_sorted_indices:
            matrix = matrix.sorted_indices()
        rows = np.repeat(np.arange(self.n_accounts), np.diff(matrix.indptr))
        symbols = np.asarray([i.symbol for i in self.instruments], dtype=object)
        return pandas.DataFrame(
            {
                "account": ids[rows],
                "model": self.model,
                "instrument": symbols[matrix.indices],
                "im_contribution": np.asarray(matrix.data, dtype=np.float64),
            }
        )

    def contributions(self, row: int) -> dict[str, float]:
        """Instrument symbol -> USD IM contribution of one account's positions."""
        start, end = self.im_contribution.indptr[row], self.im_contribution.indptr[row + 1]
        columns = self.im_contribution.indices[start:end]
        values = self.im_contribution.data[start:end]
        return {
            self.instruments[int(j)].symbol: float(v) for j, v in zip(columns, values, strict=True)
        }


def _unit_key(unit: RiskUnitMargin) -> tuple[Any, ...]:
    """Return what makes two units one unit of a book: names, components and columns."""
    return (
        unit.underlying,
        unit.currency,
        tuple(unit.components),
        unit.scenario_labels,
        unit.scenarios,
    )


def _concat_unit(units: Sequence[RiskUnitMargin]) -> RiskUnitMargin:
    """One risk unit over the rows of its blocks (the same unit in each, :func:`_unit_key`)."""
    first = units[0]
    rates = [u.usd_rate for u in units]
    if all(np.ndim(r) == 0 for r in rates) and len({float(r) for r in rates}) == 1:
        usd_rate: float | FloatArray = first.usd_rate
    else:
        usd_rate = np.concatenate(
            [np.broadcast_to(r, u.initial_margin.shape) for r, u in zip(rates, units, strict=True)]
        )

    def stack(get: Callable[[RiskUnitMargin], Any]) -> Any:
        return np.concatenate([get(u) for u in units])

    return RiskUnitMargin(
        underlying=first.underlying,
        currency=first.currency,
        usd_rate=usd_rate,
        initial_margin=stack(lambda u: u.initial_margin),
        maintenance_margin=stack(lambda u: u.maintenance_margin),
        components={n: np.concatenate([u.components[n] for u in units]) for n in first.components},
        scenario_labels=first.scenario_labels,
        scenario_pnl=stack(lambda u: u.pnl),
        worst_scenario=stack(lambda u: u.worst),
        held=stack(lambda u: u.holds),
        scenarios=first.scenarios,
    )
