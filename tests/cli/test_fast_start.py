"""Fast start: what ``pmargin --help`` and ``pmargin price`` import, and the lazy facade.

Start-up time itself is a benchmark (``python -m benchmarks cli_start``), never a timed
assertion; these tests pin what makes it fast: the facade and the book and market packages
export their names lazily (:mod:`pmargin._lazy`), so ``pmargin price`` of a perpetual loads no
SciPy, no numba and no pyarrow, and prices options with the NumPy kernels
(:func:`pmargin._compiled.numpy_kernels`).
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from pmargin._compiled import compiled_module, jit_enabled, numpy_kernels
from pmargin._lazy import type_checking_imports
from pmargin.cli.main import app
from pmargin.engine import example_path

LAZY_PACKAGES = ("pmargin.engine", "pmargin.book", "pmargin.market")
HEAVY = ("scipy", "numba", "pyarrow", "pandas")


def _modules_after(argv: list[str]) -> set[str]:
    """Run the CLI in a fresh interpreter and return the top-level modules it imported."""
    script = (
        "import sys, json\n"
        "from pmargin.cli.main import app\n"
        "try:\n"
        f"    app({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    last: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return set(last)


def test_help_loads_no_numerical_library() -> None:
    loaded = _modules_after(["--help"])
    assert not loaded & {*HEAVY, "numpy"}


def test_price_of_a_perpetual_loads_no_scipy_numba_or_pyarrow() -> None:
    market = str(example_path("example_market.json"))
    loaded = _modules_after(["price", "-m", market, "BTC-PERPETUAL"])
    assert "numpy" in loaded
    assert not loaded & set(HEAVY)


def test_price_loads_no_pydantic() -> None:
    """Plain parameters are coerced without Typer's pydantic adapters (pmargin.cli._coercion)."""
    market = str(example_path("example_market.json"))
    loaded = _modules_after(["price", "-m", market, "BTC-PERPETUAL"])
    assert "pydantic" not in loaded


def test_price_of_an_option_loads_no_numba() -> None:
    market = str(example_path("example_market.json"))
    loaded = _modules_after(["price", "-m", market, "BTC-26DEC25-115000-C", "--json"])
    assert "numba" not in loaded


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_every_lazy_export_resolves_to_its_home(package: str) -> None:
    module = importlib.import_module(package)
    assert module.__file__ is not None
    with open(module.__file__, encoding="utf-8") as f:
        homes = type_checking_imports(f.read())
    assert set(homes) == set(module.__all__)
    for name, (home, attribute) in homes.items():
        assert getattr(module, name) is getattr(importlib.import_module(home), attribute)
    assert set(module.__all__) <= set(dir(module))


def test_unknown_lazy_name_is_an_attribute_error() -> None:
    engine = importlib.import_module("pmargin.engine")
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = engine.no_such_name


def test_type_checking_imports_reads_only_the_guarded_block() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "from a.b import eager\n"
        "if TYPE_CHECKING:\n"
        "    from a.c import One, Two as Deux\n"
        "    import a.d\n"
    )
    assert type_checking_imports(source) == {"One": ("a.c", "One"), "Deux": ("a.c", "Two")}


def test_numpy_kernels_is_scoped() -> None:
    outside = jit_enabled()
    with numpy_kernels():
        assert not jit_enabled()
        assert compiled_module("pmargin.pricing._black76_jit") is None
    assert jit_enabled() == outside


def test_price_json_is_the_reference_kernel() -> None:
    """The command's option quotes are the NumPy kernel's, bit for bit."""
    from pmargin.engine import instruments_for, load_inputs, price_instruments

    market = example_path("example_market.json")
    symbols = ["BTC-26DEC25-115000-C", "ETH-26DEC25-3000-P"]
    result = CliRunner().invoke(app, ["price", "-m", str(market), *symbols, "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    snapshot, _ = load_inputs(market, None)
    with numpy_kernels():
        expected = price_instruments(instruments_for(symbols), snapshot)
    got = np.array([[r["price"], r["delta"], r["gamma"], r["vega"], r["theta"]] for r in rows])
    want = np.array([[q.price, q.delta, q.gamma, q.vega, q.theta] for q in expected])
    np.testing.assert_array_equal(got, want)
