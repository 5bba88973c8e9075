"""Compiled kernels (numba, the ``fast`` extra): the one switch and the one way to compile.

Every compiled kernel of pmargin lives in a module of its own that imports numba (pricing's
Black-76 kernel, the margin models' account passes, scenario risk's fused tail). Its caller
asks :func:`compiled_module` for it and takes its NumPy path when the answer is ``None``:
numba absent or unusable with this NumPy, or ``PMARGIN_JIT=0`` in the environment (how CI
runs the NumPy paths; they stay the reference). Kernel modules compile their functions with
:func:`njit` / :func:`njit_inline`, which import numba only when first used, so importing this
module never needs numba.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import importlib
import os
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any, TypeVar, cast

__all__ = ["compiled_module", "jit_enabled", "njit", "njit_inline", "numpy_kernels"]

_F = TypeVar("_F", bound=Callable[..., Any])
_NUMPY_ONLY: contextvars.ContextVar[bool] = contextvars.ContextVar("_NUMPY_ONLY", default=False)


def jit_enabled() -> bool:
    """Whether compiled kernels may be used.

    ``PMARGIN_JIT`` is not ``"0"`` (default on) and no :func:`numpy_kernels` block is open.
    """
    return os.environ.get("PMARGIN_JIT", "1") != "0" and not _NUMPY_ONLY.get()


@contextlib.contextmanager
def numpy_kernels() -> Iterator[None]:
    """Run the NumPy kernels (the reference twins) inside the block, in this context only.

    For short-lived work on a few options (``pmargin price``): importing numba and loading
    a kernel's cached machine code takes about 0.5 s, compiling it on a fresh install about
    10 s, while the NumPy kernel prices a few thousand options in a millisecond. Results
    agree with the compiled kernels to a few ulp (``docs/pricing.md``).
    """
    token = _NUMPY_ONLY.set(True)
    try:
        yield
    finally:
        _NUMPY_ONLY.reset(token)


def compiled_module(name: str) -> ModuleType | None:
    """Import the kernel module ``name``; ``None`` without numba, with ``PMARGIN_JIT=0``.

    Also ``None`` inside a :func:`numpy_kernels` block.

    Parameters
    ----------
    name
        Dotted module name (``"pmargin.margin.deribit._jit"``).
    """
    if not jit_enabled():
        return None
    return _import_kernel(name)


@functools.cache
def _import_kernel(name: str) -> ModuleType | None:
    """Import the kernel module ``name`` once; ``None`` when numba cannot be used."""
    try:
        return importlib.import_module(name)
    except ImportError:  # numba absent, or present but unusable with this NumPy
        return None


def njit(func: _F) -> _F:
    """Compile ``func`` with numba: no Python error checks, so loops over arrays vectorise.

    ``error_model="numpy"`` makes division by zero give ``inf``/NaN as in NumPy instead of
    raising (a branch per division that would stop vectorisation); ``cache=True`` keeps the
    machine code in ``__pycache__`` so only the first import anywhere pays the compilation.
    """
    numba: Any = importlib.import_module("numba")
    return cast(_F, numba.njit(error_model="numpy", cache=True)(func))


def njit_inline(func: _F) -> _F:
    """Compile ``func`` as a numba device function inlined into its callers."""
    numba: Any = importlib.import_module("numba")
    return cast(_F, numba.njit(inline="always", error_model="numpy", cache=True)(func))
