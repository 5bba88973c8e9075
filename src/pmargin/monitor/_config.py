"""Circuit-breaker parameters: ``monitor/circuit_breakers.toml``, validated on load.

Every limit of the price-feed breakers is data (DESIGN.md): the shipped file holds the
defaults, a user passes their own file with the same fields (any table or field left out keeps
the shipped value; an unknown field is an error, so a typo cannot silently disable a rule).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pmargin._files import read_toml_file
from pmargin._params import ParamTable, merge_tables
from pmargin.errors import InputError

__all__ = ["BreakerConfig", "default_config_path", "load_breaker_config"]

_TABLES: dict[str, tuple[str, ...]] = {
    "mark_band": ("enabled", "max_deviation"),
    "index_jump": ("enabled", "max_move", "interval_seconds"),
    "stale": ("enabled", "max_age_seconds"),
    "invalid": ("max_iv",),
    "resume": ("clean_updates", "cooldown_seconds"),
}


def default_config_path() -> Path:
    """Path of the shipped ``circuit_breakers.toml``."""
    return Path(str(resources.files("pmargin.monitor") / "circuit_breakers.toml"))


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    """Validated circuit-breaker limits.

    Attributes
    ----------
    mark_band_enabled, mark_band
        Futures/perpetual mark band: ``|mark / index - 1| > mark_band`` trips (decimal, 0.10).
    index_jump_enabled, index_jump, jump_interval_s
        ``|index / reference - 1| > index_jump`` against any accepted index of the last
        ``jump_interval_s`` seconds trips (decimal, seconds).
    stale_enabled, max_age_s
        No valid price tick of an underlying for more than ``max_age_s`` seconds trips.
    max_iv
        Largest implied vol (decimal) a mark's iv may have.
    resume_clean_updates, cooldown_s
        A paused underlying resumes after this many clean ticks since its last trip and at
        least ``cooldown_s`` seconds after it.
    where
        The file the limits came from.
    """

    mark_band_enabled: bool = True
    mark_band: float = 0.10
    index_jump_enabled: bool = True
    index_jump: float = 0.15
    jump_interval_s: float = 300.0
    stale_enabled: bool = True
    max_age_s: float = 60.0
    max_iv: float = 5.0
    resume_clean_updates: int = 3
    cooldown_s: float = 60.0
    where: str = "circuit_breakers.toml"

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], where: str) -> BreakerConfig:
        """Validate a parsed file (every table and field required; unknown ones rejected).

        Raises
        ------
        InputError
            Naming the dotted field (``circuit_breakers.toml: mark_band.max_deviation``).
        """
        top = ParamTable(data, where)
        top.reject_unknown(("version", *_TABLES))
        if top.integer("version", low=1) != 1:
            raise InputError(top.field("version"), top.raw("version"), "must be 1")
        tables = {}
        for name, fields in _TABLES.items():
            table = top.table(name)
            table.reject_unknown(fields)
            tables[name] = table
        band, jump, stale = tables["mark_band"], tables["index_jump"], tables["stale"]
        resume = tables["resume"]
        return cls(
            mark_band_enabled=_flag(band, "enabled"),
            mark_band=band.number("max_deviation", low=0.0, high=1.0, low_open=True),
            index_jump_enabled=_flag(jump, "enabled"),
            index_jump=jump.number("max_move", low=0.0, low_open=True),
            jump_interval_s=jump.number("interval_seconds", low=0.0, low_open=True),
            stale_enabled=_flag(stale, "enabled"),
            max_age_s=stale.number("max_age_seconds", low=0.0, low_open=True),
            max_iv=tables["invalid"].number("max_iv", low=0.0, high=10.0, low_open=True),
            resume_clean_updates=resume.integer("clean_updates", low=1),
            cooldown_s=resume.number("cooldown_seconds", low=0.0),
            where=where,
        )


def _flag(table: ParamTable, key: str) -> bool:
    value = table.raw(key)
    if not isinstance(value, bool):
        raise InputError(table.field(key), value, "must be true or false")
    return value


def load_breaker_config(path: str | Path | None = None) -> BreakerConfig:
    """Read the shipped breaker file, or a user's file merged over it.

    Parameters
    ----------
    path
        A TOML file with any of the shipped file's tables and fields; ``None`` reads the
        shipped defaults.

    Raises
    ------
    InputError
        Naming the file (missing, not TOML) or the dotted field that is out of range.
    """
    shipped = read_toml_file(default_config_path(), "circuit_breakers")
    if path is None:
        return BreakerConfig.from_mapping(shipped, default_config_path().name)
    own = read_toml_file(path, "circuit_breakers")
    return BreakerConfig.from_mapping(merge_tables(shipped, own), Path(path).name)
