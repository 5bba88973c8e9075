"""A user's parameter file: new keys only in the tables the shipped file declares open.

``load_parameter_file`` refuses a key the model's shipped file lacks ("did you mean"), except
in the tables named by the shipped file's top-level ``extensible`` list, whose keys are names
a user chooses (currencies, underlyings, coin groups); there a new entry must be shaped like
its siblings. These tests cover every shipped file's declaration and the rule itself.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from pmargin.errors import InputError
from pmargin.margin import MODELS, ParamTable, get_model, load_parameter_file, methodology_path
from pmargin.margin.deribit import DeribitModel
from pmargin.margin.pmrm2 import DerivePmrm2Model
from pmargin.margin.standard import StandardModel
from pmargin.margin.tims import TimsModel

SHIPPED_OPEN = {
    "deribit": ("currency_pair", "currency"),
    "okx": ("groups", "mr1.moves", "mr6.moves", "mr7.scaling", "mr8.imr_rate"),
    "standard": ("futures", "options"),
    "tims": ("portfolio_types", "underlyings"),
    "derive-pmrm2": ("collaterals",),
}
"""Some open tables of each shipped file (okx.toml lists more), as the files declare them."""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mine.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _raw(name: str) -> dict[str, Any]:
    data: dict[str, Any] = tomllib.loads(methodology_path(name).read_text(encoding="utf-8"))
    return data


def _toml_table(header: str, table: dict[str, Any]) -> str:
    """A flat TOML table of numbers, strings and booleans (enough for the entries copied)."""
    lines = [f"[{header}]"]
    for key, value in table.items():
        text = str(value).lower() if isinstance(value, bool) else json.dumps(value)
        lines.append(f"{key} = {text}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("name", sorted(SHIPPED_OPEN))
def test_shipped_files_declare_their_open_tables(name: str) -> None:
    declared = _raw(name)["extensible"]
    assert set(SHIPPED_OPEN[name]) <= set(declared)
    # The loader reads the list; a model never sees it.
    assert "extensible" not in load_parameter_file(name).data


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_registered_model_loads_its_shipped_file_and_a_copy(
    name: str, tmp_path: Path
) -> None:
    """A user's full copy of a shipped file (its ``extensible`` too) adds nothing."""
    if not methodology_path(name).is_file():
        pytest.skip(f"{name} has no shipped parameter file")
    copy = _write(tmp_path, methodology_path(name).read_text(encoding="utf-8"))
    table = load_parameter_file(name, copy)
    assert table.data == load_parameter_file(name).data
    assert table.added_paths == frozenset()
    get_model(name, params=copy)


def test_deribit_currency_and_pair_may_be_added(tmp_path: Path) -> None:
    raw = _raw("deribit")
    text = (
        'base = "deribit"\n'
        + _toml_table("currency.sol", raw["currency"]["eth"])
        + _toml_table("currency_pair.sol_usdc", raw["currency_pair"]["eth_usd"])
    )
    table = load_parameter_file("deribit", _write(tmp_path, text))
    assert table.table("currency").added() == ("sol",)
    assert table.table("currency_pair").added() == ("sol_usdc",)
    assert table.added() == ()
    model = get_model("deribit", params=tmp_path / "mine.toml")
    assert isinstance(model, DeribitModel)
    assert model.params.currency("sol").pnl_offset == raw["currency"]["eth"]["pnl_offset"]


@pytest.mark.parametrize(
    ("model", "text", "field", "reason"),
    [
        # a field of a new entry that none of its siblings has
        (
            "deribit",
            "[currency.sol]\npnl_ofset = 0.5\n",
            "currency.sol.pnl_ofset",
            "did you mean 'pnl_offset'?",
        ),
        # a new entry shaped unlike its siblings
        ("deribit", "[currency]\nsol = 0.5\n", "currency.sol", "must be a table"),
        ("tims", "[underlyings]\nTSLA = 1\n", "underlyings.TSLA", "must be a string"),
        # a new key in a closed table
        ("deribit", "[general]\nmm_facter = 0.5\n", "general.mm_facter", "'mm_factor'"),
        ("deribit", "[generel]\nmm_factor = 0.5\n", "generel", "did you mean 'general'?"),
        ("standard", "[general]\nlinear_price = 'mark'\n", "general.linear_price", "not a field"),
        (
            "tims",
            "[valuation]\npoints_per_sides = 4\n",
            "valuation.points_per_sides",
            "did you mean 'points_per_side'?",
        ),
        # a user's file cannot open a table the shipped file keeps closed
        ("deribit", "extensible = ['general']\n", "extensible[0]", "is not open in deribit.toml"),
        # nor name a table it does not have
        ("deribit", "extensible = ['currencies']\n", "extensible[0]", "is not a table"),
        ("deribit", "extensible = 'currency'\n", "extensible", "must be a list"),
    ],
)
def test_a_misspelt_or_misshapen_key_is_refused_by_name(
    model: str, text: str, field: str, reason: str, tmp_path: Path
) -> None:
    path = _write(tmp_path, f'base = "{model}"\n' + text)
    with pytest.raises(InputError) as err:
        load_parameter_file(model, path)
    assert err.value.field == f"mine.toml: {field}"
    assert reason in str(err.value)


def test_standard_underlying_may_be_added(tmp_path: Path) -> None:
    raw = _raw("standard")
    entry = dict(raw["futures"]["default"])
    entry["im_rate"] = 0.25
    text = 'base = "standard"\n' + _toml_table("futures.XRP", entry)
    model = get_model("standard", params=_write(tmp_path, text))
    assert isinstance(model, StandardModel)
    assert model.params.futures["XRP"].im_rate == 0.25


def test_tims_underlying_and_portfolio_type_may_be_added(tmp_path: Path) -> None:
    text = (
        'base = "tims"\n[portfolio_types.crypto]\ndown = 0.30\nup = 0.30\n'
        '[underlyings]\nBTC = "crypto"\n'
    )
    model = get_model("tims", params=_write(tmp_path, text))
    assert isinstance(model, TimsModel)
    assert model.params.underlying_types["BTC"] == "crypto"
    crypto = model.params.portfolio_types["crypto"]
    assert (crypto.down, crypto.up) == (0.30, 0.30)


def test_pmrm2_collateral_may_be_added(tmp_path: Path) -> None:
    """A new ``[collaterals.<ASSET>]`` with the shipped entries' fields loads."""
    text = (
        'base = "derive-pmrm2"\n[collaterals.WEETH]\nmm_haircut = 0.02\nim_haircut = 0.02\n'
        "risk_cancelling = true\n"
    )
    model = get_model("derive-pmrm2", params=_write(tmp_path, text))
    assert isinstance(model, DerivePmrm2Model)
    assert model.params.collaterals["WEETH"].mm_haircut == 0.02


def test_a_shipped_file_naming_a_missing_table_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``extensible`` paths are checked on load, the shipped file's too."""
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    (shipped / "toy.toml").write_text('extensible = ["a", "a.b.c"]\n[a.b]\nx = 1\n')
    monkeypatch.setattr(
        "pmargin.margin._params.methodology_path", lambda name: shipped / f"{name}.toml"
    )
    with pytest.raises(InputError) as err:
        load_parameter_file("toy")
    assert err.value.field == "toy.toml: extensible[1]"
    assert "is not a table of this file" in str(err.value)


def test_a_table_built_in_code_lets_extensible_through_at_its_top_only() -> None:
    top = ParamTable({"extensible": ["x"], "x": {"extensible": 1}}, "toy.toml")
    top.reject_unknown(("x",))
    with pytest.raises(InputError, match=r"toy\.toml: x\.extensible"):
        top.table("x").reject_unknown(())
