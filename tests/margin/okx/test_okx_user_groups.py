"""Coin groups a user's file adds to okx.toml: their values, their precedence, and typos.

okx.toml declares which tables a user's file may add keys to (``extensible``: the coin groups
and the tables keyed by them); every other new key is refused with a "did you mean". A group
the user's file adds takes precedence over the shipped groups naming the same coin, in the
tables where it has a value.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pmargin.book import arrange, portfolio_from_dict
from pmargin.errors import InputError
from pmargin.margin import MarginResult, get_model, load_parameter_file
from pmargin.margin.okx import OkxModel
from pmargin.market import market_from_dict

ZZZ_INDEX, ZZZ_MARK, ZZZ_QUANTITY = 50.0, 50.5, 100.0
"""A made-up coin: index and mark (USD) and a long perpetual position (coins)."""

ZZZ_FILE = """base = "okx"
[groups]
zzz = ["ZZZ"]
[mr1.moves]
zzz = [0.10, 0.20, 0.30]
[mr4.perpetual_move]
zzz = 0.01
[mr6.moves]
zzz = 0.40
[mr7.rates.perpetual]
zzz = 0.02
"""


def _okx(tmp_path: Path, text: str | None) -> OkxModel:
    path = None
    if text is not None:
        path = tmp_path / "mine.toml"
        path.write_text(text, encoding="utf-8")
    model = get_model("okx", params=path)
    assert isinstance(model, OkxModel)
    return model


def _zzz_margin(model: OkxModel) -> MarginResult:
    """One account long ``ZZZ_QUANTITY`` of a linear USD perpetual on ZZZ (explicit spec)."""
    spec = {
        "symbol": "ZZZ-USD-SWAP",
        "kind": "perpetual",
        "underlying": "ZZZ",
        "settlement": "linear",
        "quote": "USD",
        "contract_size": 1,
    }
    portfolio = portfolio_from_dict(
        {
            "id": "z",
            "positions": [{"instrument": "ZZZ-USD-SWAP", "quantity": ZZZ_QUANTITY}],
            "instruments": [spec],
        }
    )
    market = market_from_dict(
        {
            "timestamp": "2025-01-15T08:00:00Z",
            "index": {"ZZZ": ZZZ_INDEX},
            "marks": {"ZZZ-USD-SWAP": {"price": ZZZ_MARK}},
        },
        instruments=portfolio.instruments,
    )
    return model.compute(arrange(portfolio, market))


def _components(result: MarginResult) -> dict[str, float]:
    (unit,) = result.risk_units
    assert unit.underlying == "ZZZ"
    return {k: float(v[0]) for k, v in unit.components.items()}


def test_a_coin_the_shipped_tables_lack_margins_with_the_user_group_values(
    tmp_path: Path,
) -> None:
    model = _okx(tmp_path, ZZZ_FILE)
    c = _components(_zzz_margin(model))
    index_value = ZZZ_QUANTITY * ZZZ_INDEX  # 5,000 USD: MR1 and MR6 move the index
    mark_value = ZZZ_QUANTITY * ZZZ_MARK  # 5,050 USD: MR4 and MR7 are sized on the mark
    assert c["mr1"] == pytest.approx(0.30 * index_value, rel=1e-14)  # the largest user move
    assert c["mr6"] == pytest.approx(0.5 * 0.40 * index_value, rel=1e-14)  # weight 0.5
    assert c["mr4"] == pytest.approx(0.01 * mark_value, rel=1e-14)
    assert c["mr7_raw"] == pytest.approx(0.02 * mark_value, rel=1e-14)
    assert c["mr7"] == c["mr7_raw"]  # 101 USD: tier 1 of mr7.scaling.default (x1)
    mmr = 0.30 * index_value + 0.01 * mark_value  # max(MR1, MR6) + MR4 (MR2/3/5 are 0)
    assert c["mmr"] == pytest.approx(mmr, rel=1e-14)
    result = _zzz_margin(model)
    assert float(result.initial_margin[0]) == pytest.approx(1.3 * mmr, rel=1e-14)
    # Without the user's file ZZZ takes every table's default (8/16/25%, 50%, 1.6%, 1.0%).
    d = _components(_zzz_margin(_okx(tmp_path, None)))
    assert d["mr1"] == pytest.approx(0.25 * index_value, rel=1e-14)
    assert d["mr4"] == pytest.approx(0.016 * mark_value, rel=1e-14)
    assert d["mr7_raw"] == pytest.approx(0.010 * mark_value, rel=1e-14)


def test_the_added_group_is_known_as_added() -> None:
    path = Path(__file__).parent / "okx-ltc-example.toml"
    table = load_parameter_file("okx", path)
    assert table.table("groups").added() == ("ltc",)
    assert table.table("mr4").table("perpetual_move").added() == ("ltc",)
    assert table.table("mr1").added() == ()  # "moves" is a shipped key, not an added one
    assert load_parameter_file("okx").table("groups").added() == ()


def test_a_user_group_wins_over_the_shipped_groups_only_where_it_has_a_value(
    tmp_path: Path,
) -> None:
    text = """base = "okx"
[groups]
mine = ["XRP", "SOL"]
[mr4.perpetual_move]
mine = 0.003
"""
    p = _okx(tmp_path, text).params
    shipped = _okx(tmp_path, None).params
    assert p.mr4_perpetual_move.lookup("XRP") == p.mr4_perpetual_move.lookup("sol") == 0.003
    # XRP is in the shipped mr1_tier2 and move_tier2: the other tables keep those groups.
    assert p.mr1_moves.lookup("XRP") == shipped.mr1_moves.lookup("XRP") == (0.06, 0.12, 0.18)
    assert p.mr6_moves.lookup("XRP") == shipped.mr6_moves.lookup("XRP") == 0.36
    assert p.mr4_perpetual_move.lookup("DOGE") == shipped.mr4_perpetual_move.lookup("DOGE")


def test_two_user_groups_naming_one_coin_in_one_table_is_an_error(tmp_path: Path) -> None:
    text = ZZZ_FILE.replace('zzz = ["ZZZ"]', 'zzz = ["ZZZ"]\nzz2 = ["ZZZ", "QQQ"]').replace(
        "zzz = 0.01", "zzz = 0.01\nzz2 = 0.02"
    )
    with pytest.raises(InputError) as err:
        _okx(tmp_path, text)
    assert err.value.field == "mine.toml: mr4.perpetual_move.zz2"
    assert err.value.value == "ZZZ"
    assert "also in group 'zzz', which the user's file adds too" in str(err.value)


def test_redefining_a_shipped_group_keeps_its_rank(tmp_path: Path) -> None:
    """A shipped group's name is the shipped group's: LTC in majors and mr1_tier2 is an error."""
    text = 'base = "okx"\n[groups]\nmajors = ["BTC", "ETH", "LTC"]\n'
    with pytest.raises(InputError) as err:
        _okx(tmp_path, text)
    assert err.value.field == "mine.toml: mr1.moves.mr1_tier2"
    assert err.value.value == "LTC"
    assert "a group a user's file adds wins" in str(err.value)


@pytest.mark.parametrize(
    ("text", "field", "reason"),
    [
        # misspelt keys of closed tables: refused, with the nearest name
        ("[mr4]\nperpetual_moves = {zzz = 0.01}\n", "mr4.perpetual_moves", "'perpetual_move'"),
        ("[mr2]\ndayz = 2\n", "mr2.dayz", "did you mean 'days'?"),
        ("[margin]\nim_facter = 1.5\n", "margin.im_facter", "did you mean 'im_factor'?"),
        ("[mr1.vol_shock]\nrange_upp = 0.3\n", "mr1.vol_shock.range_upp", "'range_up'"),
        ("[grups]\nzzz = ['ZZZ']\n", "grups", "did you mean 'groups'?"),
        # new entries of open tables: shaped like their siblings
        ("[mr1.moves]\nzzz = 0.1\n", "mr1.moves.zzz", "must be a list"),
        ("[groups]\nzzz = 'ZZZ'\n", "groups.zzz", "must be a list"),
        ("[mr4.perpetual_move]\nzzz = [0.01]\n", "mr4.perpetual_move.zzz", "must be a number"),
        (
            "[mr7.scaling.zzz]\nbounds = [1.0]\nmultiplers = [1, 2]\n",
            "mr7.scaling.zzz.multiplers",
            "did you mean 'multipliers'?",
        ),
        # an entry of an open table that names no group
        ("[groups]\nzzz = ['ZZZ']\n[mr6.moves]\nzz = 0.4\n", "mr6.moves.zz", "'zzz'"),
    ],
)
def test_a_misspelt_or_misshapen_key_is_refused(
    tmp_path: Path, text: str, field: str, reason: str
) -> None:
    with pytest.raises(InputError) as err:
        _okx(tmp_path, 'base = "okx"\n' + text)
    assert err.value.field == f"mine.toml: {field}"
    assert reason in str(err.value)


def test_a_user_file_may_not_open_a_table(tmp_path: Path) -> None:
    text = 'base = "okx"\nextensible = ["groups", "mr2"]\n[mr2]\nhours = 24\n'
    with pytest.raises(InputError) as err:
        _okx(tmp_path, text)
    assert err.value.field == "mine.toml: extensible[1]"
    assert "is not open in okx.toml" in str(err.value)
