"""One interface for every margin model and the model registry.

A model is any object with a ``name``, ``capabilities`` (:class:`Capabilities`, declared in
``margin/_capabilities.py``: what it can margin and how it can be run) and
``compute(book) -> MarginResult`` (the book carries its market, ``book.market``: one argument,
one source of prices). Each model class also has ``from_params(table)``, building it from its
validated parameter file (``methodologies/<name>.toml`` or a user's own file with the same
fields).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib import import_module
from pathlib import Path
from typing import Protocol, runtime_checkable

from pmargin._params import ParamTable
from pmargin.book import BookArrangement
from pmargin.errors import InputError
from pmargin.margin._capabilities import Capabilities
from pmargin.margin._incremental import PositionChange
from pmargin.margin._params import load_parameter_file
from pmargin.margin._result import MarginResult
from pmargin.valuation import ResolvedInstruments

__all__ = ["MODELS", "IncrementalMargin", "MarginModel", "get_model"]


@runtime_checkable
class MarginModel(Protocol):
    """A margin model: IM, MM, components and attribution for every account of a book."""

    name: str

    @property
    def capabilities(self) -> Capabilities:
        """What the model can margin and how it can be run (one declaration per model)."""
        ...

    def compute(self, book: BookArrangement) -> MarginResult:
        """Margin every account of ``book`` at its market (batch; see :class:`MarginResult`)."""
        ...


class IncrementalMargin(Protocol):
    """One account's margin after position changes, from cached per-account vectors.

    Models that can update an account without re-margining it provide
    ``model.incremental(book, result) -> IncrementalMargin | None`` (``None`` where a
    mode of the model has no such path); :class:`~pmargin.health.AccountWhatIf` uses it. The
    shared implementation is :class:`~pmargin.margin._incremental.UnitIncremental`; a change
    is a :class:`~pmargin.margin._incremental.PositionChange`.

    Attributes
    ----------
    reads_balances
        Whether the model's margin moves with balances (Deribit X:PM's moving coin
        collateral): the what-if then passes every change's balance deltas, trades' cash
        included; otherwise it passes none.
    """

    reads_balances: bool

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

    def margin_after_changes(
        self, row: int, changes: Sequence[PositionChange], balances: Mapping[str, float]
    ) -> tuple[float, float]:
        """IM and MM (USD) of account ``row`` after ``changes`` (in order) and balance deltas.

        No side effect. ``balances``: asset -> units of the asset (read only with
        :attr:`reads_balances`).
        """
        ...

    def commit(
        self, row: int, instrument: ResolvedInstruments, column: int | None, quantity: float
    ) -> tuple[float, float]:
        """Book one change into the cached state (as :meth:`margin_after`); IM and MM after."""
        ...

    def commit_changes(
        self, row: int, changes: Sequence[PositionChange], balances: Mapping[str, float]
    ) -> tuple[float, float]:
        """Book ``changes`` and ``balances`` into the cached state; IM and MM (USD) after.

        Later calls about account ``row`` start from the changed state.
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
