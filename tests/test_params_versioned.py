"""The one reader of a consumer's versioned parameter file, through each loader that uses it.

Agent policy, hedge trading rules and fill price bounds open their files with
``read_versioned_file``: the same header checks, the same messages, each naming its file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pmargin._params import ParamTable, read_versioned_file
from pmargin.errors import InputError
from pmargin.optimise import agent_policy_path, load_agent_policy
from pmargin.optimise._rules import load_trading_rules, trading_rules_path
from pmargin.pretrade._price_bounds import load_price_bounds, price_bounds_path

LOADERS: list[tuple[Callable[[], Path], Callable[[Path], Any]]] = [
    (agent_policy_path, load_agent_policy),
    (trading_rules_path, load_trading_rules),
    (price_bounds_path, load_price_bounds),
]


@pytest.mark.parametrize(("shipped", "load"), LOADERS)
@pytest.mark.parametrize(
    ("old", "new", "field", "reason"),
    [
        ("schema_version = 1", "schema_version = 2", "schema_version", "must be 1"),
        ("schema_version = 1", "schema_version = 0", "schema_version", "must be an integer >= 1"),
        ("schema_version = 1", "schema_version = 1\nextra = 3", "extra", "is not a known field"),
        ("schema_version = 1", "schema_version = 1\nsource = 3", "source", "must be a string"),
    ],
)
def test_every_versioned_file_has_the_same_header_checks(
    tmp_path: Path,
    shipped: Callable[[], Path],
    load: Callable[[Path], Any],
    old: str,
    new: str,
    field: str,
    reason: str,
) -> None:
    text = shipped().read_text(encoding="utf-8")
    if "source = " in new:
        text = "\n".join(line for line in text.splitlines() if not line.startswith("source ="))
    file = tmp_path / shipped().name
    file.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(InputError) as error:
        load(file)
    assert error.value.field == f"{file.name}: {field}"
    assert error.value.reason.startswith(reason)


def test_the_shipped_files_read_and_name_themselves() -> None:
    for shipped, load in LOADERS:
        load(shipped())
        top = read_versioned_file(shipped(), "shipped", 1, list(_tables(shipped())))
        assert top.where == shipped().name


def test_a_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        read_versioned_file(tmp_path / "none.toml", "price bounds", 1, [])


@pytest.mark.parametrize("value", [1, 0, "true", None])
def test_a_flag_is_true_or_false_only(value: object) -> None:
    table = ParamTable({"held": value}, "agent.toml: hedge")
    with pytest.raises(InputError, match="must be true or false"):
        table.flag("held")
    assert ParamTable({"held": False}, "x.toml").flag("held") is False
    assert ParamTable({}, "x.toml").flag("held", True) is True


def _tables(file: Path) -> tuple[str, ...]:
    """Top-level table names of a shipped file (``[name]`` headers)."""
    lines = file.read_text(encoding="utf-8").splitlines()
    return tuple(
        dict.fromkeys(line.strip("[] ").split(".")[0] for line in lines if line.startswith("["))
    )
