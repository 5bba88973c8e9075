"""Where the margin models find their compiled kernels (numba, the ``fast`` extra).

A model's compiled account pass lives in a module of its own that imports numba; the model asks
:func:`compiled_module` for it on the first call and takes its NumPy path when the answer is
``None``: numba absent (or unusable with this NumPy), or ``PMARGIN_JIT=0`` in the environment
(how CI runs the NumPy paths).
"""

from __future__ import annotations

import functools
import importlib
import os
from types import ModuleType

__all__ = ["compiled_module"]


@functools.cache
def compiled_module(name: str) -> ModuleType | None:
    """Import the kernel module ``name``; ``None`` without numba or with ``PMARGIN_JIT=0``.

    Parameters
    ----------
    name
        Dotted module name (``"pmargin.margin.deribit._jit"``).
    """
    if os.environ.get("PMARGIN_JIT", "1") == "0":
        return None
    try:
        return importlib.import_module(name)
    except ImportError:  # numba absent, or present but unusable with this NumPy
        return None
