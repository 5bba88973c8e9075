"""Margin models behind one interface, their parameter files and shared scenario machinery.

``get_model(name).compute(book)`` returns a :class:`MarginResult` for every account of
a :class:`~pmargin.book.BookArrangement`. Models: ``standard`` (per-position baseline),
``deribit``, ``derive-pmrm2``, ``okx`` and ``tims``.
"""

from pmargin._params import ParamTable
from pmargin.margin._capabilities import HEDGE_SOLVES, Capabilities, HedgeSolve, Scope
from pmargin.margin._incremental import PositionChange, canonical_csr, held_quantity
from pmargin.margin._model import MODELS, IncrementalMargin, MarginModel, get_model
from pmargin.margin._params import load_parameter_file, methodology_path
from pmargin.margin._result import MarginResult, RiskUnitMargin

__all__ = [
    "HEDGE_SOLVES",
    "MODELS",
    "Capabilities",
    "HedgeSolve",
    "IncrementalMargin",
    "MarginModel",
    "MarginResult",
    "ParamTable",
    "PositionChange",
    "RiskUnitMargin",
    "Scope",
    "canonical_csr",
    "get_model",
    "held_quantity",
    "load_parameter_file",
    "methodology_path",
]
