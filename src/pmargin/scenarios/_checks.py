"""Field validation shared by the scenario types (each failure is an :class:`InputError`)."""

from __future__ import annotations

from pmargin._validation import as_enum, as_float

__all__ = ["as_enum", "as_float"]
