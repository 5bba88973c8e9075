"""OKX portfolio margin: one USD risk unit per underlying, MR1..MR7 (published components).

``MR = max(MR1, MR2, MR6) + MR3 + MR4 + MR5``, ``MMR = max(MR, MR7 scaled)``,
``IMR = 1.3 x MMR``; parameters in ``methodologies/okx.toml`` (docs/margin-okx.md).
"""

from pmargin.margin.okx._components import (
    basis_multipliers,
    minimum_charge_rates,
    rate_shift_pnl,
    term_structure_charge,
    term_structure_weights,
)
from pmargin.margin.okx._model import COMPONENTS, OkxModel
from pmargin.margin.okx._params import CoinTable, MinimumChargeScale, OkxParams
from pmargin.margin.okx._scaling import progressive_scale

__all__ = [
    "COMPONENTS",
    "CoinTable",
    "MinimumChargeScale",
    "OkxModel",
    "OkxParams",
    "basis_multipliers",
    "minimum_charge_rates",
    "progressive_scale",
    "rate_shift_pnl",
    "term_structure_charge",
    "term_structure_weights",
]
