"""US customer portfolio margin (OCC TIMS / Cboe Rule 10.4 / FINRA Rule 4210(g)).

Class groups (one underlying each) valued at 10 equidistant points by portfolio type, a
per-contract minimum, and product-group offsets; parameters in ``methodologies/tims.toml``
(docs/margin-tims.md).
"""

from pmargin.margin.tims._model import COMPONENTS, TimsModel
from pmargin.margin.tims._params import PortfolioType, ProductGroup, TimsParams
from pmargin.margin.tims._pieces import (
    offset_factors,
    offset_pnl,
    per_contract_minimum,
    valuation_points,
)

__all__ = [
    "COMPONENTS",
    "PortfolioType",
    "ProductGroup",
    "TimsModel",
    "TimsParams",
    "offset_factors",
    "offset_pnl",
    "per_contract_minimum",
    "valuation_points",
]
