"""OKX portfolio margin: one USD risk unit per underlying (MR1..MR7) plus borrowing (MR8).

``MR = max(MR1, MR2, MR6) + MR3 + MR4 + MR5``, ``MMR = max(MR, MR7 scaled)``,
``IMR = 1.3 x MMR`` per unit; the account adds MR8 on borrowed currencies. Parameters in
``methodologies/okx.toml`` (docs/margin-okx.md).
"""

from pmargin.margin.okx._components import (
    basis_multipliers,
    minimum_charge_rates,
    rate_shift_pnl,
    term_structure_charge,
    term_structure_weights,
)
from pmargin.margin.okx._model import BORROW_COMPONENTS, COMPONENTS, OkxModel
from pmargin.margin.okx._params import CoinTable, MinimumChargeScale, OkxParams
from pmargin.margin.okx._scaling import progressive_scale

__all__ = [
    "BORROW_COMPONENTS",
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
