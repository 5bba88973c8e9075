"""OKX's IM and MM of one book structure at market after market: a monitor's ticks.

:class:`OkxTotals` keeps what :meth:`~pmargin.margin.okx.OkxModel.matrices` reads of the
instruments that no price moves (:meth:`~pmargin.margin.okx.OkxModel.static_columns`: kinds,
expiry buckets, the MR1/MR6 spot multipliers, the MR4 basis multipliers, the raw MR7 rates,
the vol scenario sets) for books of one structure (:class:`~pmargin.margin._structure.
BookStructure`), and runs the model's own compiled passes without attribution on each call:
:meth:`~pmargin.margin.okx.OkxModel.margin_totals` bit for bit (tested). A book of another
structure reads them again; where the passes decline (no numba, a non-canonical book) the
model's ``margin_totals`` runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pmargin._compiled import compiled_module
from pmargin._typing import FloatArray
from pmargin.book import BookArrangement
from pmargin.margin._structure import BookStructure

if TYPE_CHECKING:
    from pmargin.margin.okx._model import OkxModel, _Static

__all__ = ["OkxTotals"]


class OkxTotals:
    """Every account's IM and MM (USD) of books sharing one structure, static columns kept.

    Parameters
    ----------
    model
        The OKX model.
    book
        A book of the structure to keep.

    Examples
    --------
    >>> totals = OkxTotals(get_model("okx"), block)  # doctest: +SKIP
    >>> im, mm = totals(block.rebased(market))  # == margin_totals(...)  # doctest: +SKIP
    """

    def __init__(self, model: OkxModel, book: BookArrangement) -> None:
        self._model = model
        self._structure: BookStructure | None = None
        self._static: _Static | None = None
        self.builds = 0
        """How many times the static columns were read (1 + rebuilds for a new structure)."""
        self._build(book)

    def __call__(self, book: BookArrangement) -> tuple[FloatArray, FloatArray]:
        """Return ``(initial_margin, maintenance_margin)`` of ``book``, shape ``(n_accounts,)``.

        USD, bit for bit ``model.margin_totals(book)``'s.
        """
        if self._structure is None or not self._structure.holds(book):
            self._build(book)
        kernel = compiled_module("pmargin.margin.okx._jit")
        if kernel is not None and self._static is not None:
            result = self._model._compute_compiled(
                book, kernel, attribute=False, static=self._static
            )
            if result is not None:
                return result.initial_margin, result.maintenance_margin
        return self._model.margin_totals(book)

    def _build(self, book: BookArrangement) -> None:
        self.builds += 1
        moved = book.row_moves is not None
        self._structure = None if moved else BookStructure.of(book)
        self._static = None if moved else self._model.static_columns(book.resolved)
