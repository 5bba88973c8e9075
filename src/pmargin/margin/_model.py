"""One interface for every margin model, its declared capabilities, and the model registry.

A model is any object with a ``name``, ``capabilities`` (:class:`Capabilities`: what it can
margin and how it can be run) and ``compute(book, market) -> MarginResult``. Each model class
also has ``from_params(table)``, building it from its validated parameter file
(``methodologies/<name>.toml`` or a user's own file with the same fields).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import numpy as np
from scipy import sparse

from pmargin._params import ParamTable
from pmargin._typing import BoolArray
from pmargin.book import BookArrangement
from pmargin.errors import InputError
from pmargin.instruments import Instrument, Kind
from pmargin.margin._params import load_parameter_file
from pmargin.margin._result import MarginResult
from pmargin.market import MarketSnapshot
from pmargin.valuation import ResolvedInstruments

__all__ = [
    "MODELS",
    "Capabilities",
    "IncrementalMargin",
    "MarginModel",
    "Scope",
    "get_model",
]

Scope = Literal["underlying", "account"]
"""How far a price change of one underlying reaches in a model's margin.

``"underlying"``: every risk unit holds the positions of one underlying (and, for X:PM, the
balance of that underlying's coin) and the account's IM and MM are the sum of its units in USD,
so a price change of one underlying re-margins only that underlying's units.
``"account"``: some unit or charge spans underlyings, so every update re-margins the account.
"""


def _describe(instrument: Instrument) -> str:
    """Say what ``instrument`` is, in words (``"a coin-settled (inverse) option"``)."""
    if instrument.is_inverse:
        return f"a coin-settled (inverse) {instrument.kind.value}"
    if instrument.kind is Kind.FUTURE:
        return "a dated future"
    if instrument.kind is Kind.SPOT:
        return "a spot instrument"
    return f"a linear {instrument.kind.value}"


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a margin model can margin and how it can be run: declared once, on the model.

    Attributes
    ----------
    scope
        ``"underlying"`` or ``"account"`` (:data:`Scope`): what a price change of one
        underlying must re-margin (the monitor reads it).
    incremental
        Whether ``model.incremental(book, market, result)`` gives an
        :class:`IncrementalMargin` (one account's margin after an order from cached vectors,
        without re-margining it); Deribit's S:PM has one.
    needs_history
        Whether ``compute`` reads price history (its scenarios are historical or fitted to
        history), so it needs the shared data folder or a history given to the model.
    margins
        Which instruments the model can margin; ``None``: every instrument.
    limit
        The one reason, in words, for what it cannot margin (empty when it margins every
        instrument), such as ``"Derive's PMRM_2 margins USDC-settled (linear) options and
        perpetuals only"``.
    """

    scope: Scope = "account"
    incremental: bool = False
    needs_history: bool = False
    margins: Callable[[Instrument], bool] | None = None
    limit: str = ""

    def supports(self, instrument: Instrument) -> bool:
        """Whether the model can margin a position in ``instrument``."""
        return self.margins is None or self.margins(instrument)

    def unsupported(self, instruments: Iterable[Instrument]) -> str | None:
        """Why the model cannot margin ``instruments`` (the first it cannot), else ``None``.

        The reason is one line: ``"instrument 'BTC-PERPETUAL' is a coin-settled (inverse)
        perpetual: <limit>"``.
        """
        for instrument in instruments:
            if not self.supports(instrument):
                return f"instrument {instrument.symbol!r} is {_describe(instrument)}: {self.limit}"
        return None

    def check(self, instruments: Iterable[Instrument]) -> None:
        """Raise for the first instrument the model cannot margin.

        Raises
        ------
        InputError
            Naming the instrument, what it is and :attr:`limit`.
        """
        for instrument in instruments:
            if not self.supports(instrument):
                raise InputError(
                    f"instrument {instrument.symbol!r}",
                    instrument.symbol,
                    f"is {_describe(instrument)}: {self.limit}; remove it from the book or "
                    "use another model",
                )

    def supported_accounts(self, book: BookArrangement) -> BoolArray:
        """Accounts of ``book`` whose every position the model can margin.

        Returns
        -------
        BoolArray
            Shape ``(n_accounts,)``; an account without positions is supported.
        """
        n_accounts = len(book.account_ids)
        if self.margins is None:
            return np.ones(n_accounts, dtype=bool)
        cannot = np.array([not self.supports(i) for i in book.instruments], dtype=np.float64)
        held_cannot = np.asarray(abs(sparse.csr_array(book.quantity)) @ cannot, dtype=np.float64)
        supported: BoolArray = held_cannot.reshape(n_accounts) == 0.0
        return supported


@runtime_checkable
class MarginModel(Protocol):
    """A margin model: IM, MM, components and attribution for every account of a book."""

    name: str

    @property
    def capabilities(self) -> Capabilities:
        """What the model can margin and how it can be run (one declaration per model)."""
        ...

    def compute(self, book: BookArrangement, market: MarketSnapshot) -> MarginResult:
        """Margin every account of ``book`` at ``market`` (batch; see :class:`MarginResult`)."""
        ...


class IncrementalMargin(Protocol):
    """One account's margin after adding a position, from cached per-account vectors.

    Models that can update an account without re-margining it provide
    ``model.incremental(book, market, result) -> IncrementalMargin | None`` (``None`` where a
    mode of the model has no such path); :class:`~pmargin.health.AccountWhatIf` uses it.
    """

    def margin_after(
        self, row: int, instrument: ResolvedInstruments, column: int | None, quantity: float
    ) -> tuple[float, float]:
        """IM and MM (USD) of account ``row`` after adding ``quantity`` base units.

        Parameters
        ----------
        row
            The account's row in the book.
        instrument
            The instrument traded, resolved (one entry).
        column
            Its column in the book, ``None`` if the book does not hold it.
        quantity
            Signed base units added.
        """
        ...


class _ModelClass(Protocol):
    @classmethod
    def from_params(cls, params: ParamTable) -> MarginModel: ...


MODELS: dict[str, str] = {
    "standard": "pmargin.margin.standard:StandardModel",
    "deribit": "pmargin.margin.deribit:DeribitModel",
    "deribit-cross": "pmargin.margin.deribit:DeribitModel",
    "derive-pmrm2": "pmargin.margin.pmrm2:DerivePmrm2Model",
    "okx": "pmargin.margin.okx:OkxModel",
    "tims": "pmargin.margin.tims:TimsModel",
    "pmargin-es": "pmargin.margin.scenario_risk:ScenarioRiskModel",
    "pmargin-var": "pmargin.margin.scenario_risk:ScenarioRiskModel",
    "pmargin-mc": "pmargin.margin.scenario_risk:ScenarioRiskModel",
}
"""Model name -> ``module:class`` implementing it (imported on first use)."""


def get_model(name: str, params: str | Path | None = None) -> MarginModel:
    """Build a model by name from its shipped parameter file or a user's own.

    Parameters
    ----------
    name
        One of :data:`MODELS` (``"standard"``, ``"deribit"`` (S:PM), ``"deribit-cross"``
        (X:PM), ``"derive-pmrm2"``, ``"okx"``, ``"tims"``).
    params
        Optional path of a TOML parameter file with the same fields as the shipped one.

    Raises
    ------
    InputError
        For an unknown model name (listing the known ones) or a parameter file with a missing
        or out-of-range field (naming it).
    """
    if name not in MODELS:
        raise InputError("model", name, f"is not a known model ({', '.join(MODELS)})")
    module_name, class_name = MODELS[name].split(":")
    model_class: _ModelClass = getattr(import_module(module_name), class_name)
    return model_class.from_params(load_parameter_file(name, params))
