"""Lazy package exports (PEP 562): a package's names are imported on first use.

A package that re-exports many modules (the facade :mod:`pmargin.engine`) would otherwise import
all of them, and everything below them, for any one name: ``pmargin price`` would load SciPy's
optimisers and statistics to price one perpetual. The package writes its re-exports as ordinary
``from pmargin.x._y import Name`` statements under ``if TYPE_CHECKING:`` (so type checkers and
readers see them) and ends with::

    __getattr__, __dir__ = lazy_exports(__name__, __file__)

The first attribute lookup that is not yet in the package parses those statements once (the
one list of names; nothing is written twice) and imports the module that holds the name.
"""

from __future__ import annotations

import ast
import functools
import importlib
from collections.abc import Callable
from pathlib import Path

__all__ = ["lazy_exports", "type_checking_imports"]


def type_checking_imports(source: str) -> dict[str, tuple[str, str]]:
    """Map each name imported under ``if TYPE_CHECKING:`` to ``(module, attribute)``.

    Parameters
    ----------
    source
        A package ``__init__``'s source text.

    Returns
    -------
    dict[str, tuple[str, str]]
        Exported name -> (absolute module name, attribute name in that module); ``as``
        aliases are honoured.
    """
    homes: dict[str, tuple[str, str]] = {}
    for node in ast.parse(source).body:
        if not (isinstance(node, ast.If) and _is_type_checking(node.test)):
            continue
        for statement in node.body:
            if isinstance(statement, ast.ImportFrom) and statement.module and not statement.level:
                for alias in statement.names:
                    homes[alias.asname or alias.name] = (statement.module, alias.name)
    return homes


def _is_type_checking(test: ast.expr) -> bool:
    """Whether ``test`` is ``TYPE_CHECKING`` or ``typing.TYPE_CHECKING``."""
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def lazy_exports(
    package: str, init_file: str
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """Return a package's ``__getattr__`` and ``__dir__`` for its ``TYPE_CHECKING`` imports.

    Parameters
    ----------
    package
        The package's ``__name__``.
    init_file
        The package's ``__file__`` (its ``__init__.py``), read on the first lookup.

    Returns
    -------
    tuple of two callables
        ``__getattr__(name)``: imports the name's module, stores the value in the package and
        returns it; raises :class:`AttributeError` for a name it does not export.
        ``__dir__()``: the package's names and every lazy export, sorted.
    """

    @functools.cache
    def homes() -> dict[str, tuple[str, str]]:
        return type_checking_imports(Path(init_file).read_text(encoding="utf-8"))

    def lookup(name: str) -> object:
        home = homes().get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, attribute = home
        value = getattr(importlib.import_module(module), attribute)
        setattr(importlib.import_module(package), name, value)
        return value

    def names() -> list[str]:
        return sorted(set(vars(importlib.import_module(package))) | set(homes()))

    return lookup, names
