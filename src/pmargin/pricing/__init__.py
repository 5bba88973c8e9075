"""Pure vectorised pricing: Black-76 values and raw Greeks, implied volatility, delta-one P&L.

Every function takes scalars or arrays that broadcast together (instruments x scenarios) and
returns float64 arrays; nothing here knows about instruments, books or markets.

:func:`black76_lane`, the compiled kernels' one-option lane for other compiled loops, is
exported lazily (:mod:`pmargin._lazy`): importing it imports numba.
"""

from typing import TYPE_CHECKING

from pmargin._lazy import lazy_exports
from pmargin.pricing._black76 import (
    SIGMA_SQRT_T_MIN,
    Black76Result,
    black76,
    black76_reference,
    black76_value,
    black76_value_reference,
    kernel_name,
)
from pmargin.pricing._black76_pnl import (
    black76_pnl,
    black76_pnl_into,
    black76_pnl_reference,
    scenario_major,
)
from pmargin.pricing._delta_one import (
    base_units_at_price,
    delta_one_pnl,
    delta_one_pnl_scalar,
    inverse_future_delta,
    inverse_future_pnl,
    linear_future_delta,
    linear_future_pnl,
)
from pmargin.pricing._implied_vol import (
    DEFAULT_MAX_ITER,
    MAX_TOTAL_VOL,
    ImpliedVolResult,
    IVStatus,
    describe_iv_status,
    implied_vol,
)

if TYPE_CHECKING:
    from pmargin.pricing._black76_jit import black76_lane

__all__ = [
    "DEFAULT_MAX_ITER",
    "MAX_TOTAL_VOL",
    "SIGMA_SQRT_T_MIN",
    "Black76Result",
    "IVStatus",
    "ImpliedVolResult",
    "base_units_at_price",
    "black76",
    "black76_lane",
    "black76_pnl",
    "black76_pnl_into",
    "black76_pnl_reference",
    "black76_reference",
    "black76_value",
    "black76_value_reference",
    "delta_one_pnl",
    "delta_one_pnl_scalar",
    "describe_iv_status",
    "implied_vol",
    "inverse_future_delta",
    "inverse_future_pnl",
    "kernel_name",
    "linear_future_delta",
    "linear_future_pnl",
    "scenario_major",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
