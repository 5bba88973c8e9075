"""The ``standard`` margin model: Deribit's standard (per-position) margin, the baseline.

``StandardModel.from_params(load_parameter_file("standard"))`` (or
``pmargin.margin.get_model("standard")``) margins every position on its own: futures and
perpetuals at a size-increasing fraction of notional, short options at a fraction of the
underlying plus their mark, long options, spot and balances at nothing. See
``docs/margin-standard.md`` for the rules, units, parameters and sources.
"""

from pmargin.margin.standard._model import FUTURES, SHORT_OPTIONS, StandardModel
from pmargin.margin.standard._parameters import FutureRule, OptionRule, StandardParams
from pmargin.margin.standard._rules import future_margin, otm_fraction, short_option_margin

__all__ = [
    "FUTURES",
    "SHORT_OPTIONS",
    "FutureRule",
    "OptionRule",
    "StandardModel",
    "StandardParams",
    "future_margin",
    "otm_fraction",
    "short_option_margin",
]
