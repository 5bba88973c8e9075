"""Replay a real crash on a population under each margin model: ``pmargin simulate``.

The facade checks the report folder before the replay starts, calls
:func:`pmargin.simulate.simulate_crash` and writes the folder whole; the replay lives in
:mod:`pmargin.simulate`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pmargin._outputs import check_output_folder
from pmargin.engine._agent import replay_agents
from pmargin.errors import InputError
from pmargin.simulate import (
    DEFAULT_MODELS,
    REPORT_FILES,
    ImpactModel,
    SimulationConfig,
    SimulationResult,
    simulate_crash,
    write_report,
)

__all__ = ["SIMULATION_MODELS", "SimulationReport", "simulation_report"]

SIMULATION_MODELS: tuple[str, ...] = tuple(DEFAULT_MODELS)
"""The models a replay runs by default (:data:`pmargin.simulate.DEFAULT_MODELS`)."""


@dataclass(frozen=True, slots=True)
class SimulationReport:
    """A crash replay and the report files written (file name -> path)."""

    result: SimulationResult
    paths: dict[str, Path]


def simulation_report(
    out: str | Path,
    *,
    episode: str = "ftx",
    models: Sequence[str] = SIMULATION_MODELS,
    n_accounts: int = 1000,
    seed: int = 7,
    portfolio: Path | None = None,
    funding: str = "leverage",
    substeps: int = 1,
    interpolation: str = "bridge",
    depth: float = 0.03,
    impact: bool = True,
    agents: float = 0.0,
    force: bool = False,
    data: str | Path | None = None,
    out_field: str = "out",
    progress: Callable[[int, int], None] | None = None,
) -> SimulationReport:
    """Replay a crash and write its report folder ``out``.

    Parameters
    ----------
    out
        Report folder, checked before the replay; an earlier report is replaced only with
        ``force``.
    episode
        Crash to replay (:data:`pmargin.simulate.EPISODE_KEYS`, any case).
    models
        Margin models, at least one.
    n_accounts, seed
        Size and seed of the generated population (and of the path).
    portfolio
        Portfolio file replacing the generated population.
    funding
        Capital per model (:data:`pmargin.simulate.FUNDING_MODES`).
    substeps, interpolation
        Path points per 4-hour close and how they are drawn between closes.
    depth
        Net liquidation flow moving the price 1 %, as a fraction of open interest.
    impact
        Also run with the liquidation flow fed back into the price.
    agents
        Share of the accounts (seeded) running the hedging agent (docs/agent.md); 0: none.
    force
        Replace an earlier report in ``out``.
    data
        Shared data folder (default ``$PMARGIN_SHARED_DATA``, else ``../shared/data``).
    out_field
        Name of ``out`` in error messages (``--out``).
    progress
        Called as ``progress(done, total)`` after each replay (model x impact off/on).

    Raises
    ------
    InputError
        An unusable folder, no model, or an option the replay refuses.
    """
    check_output_folder(out, force=force, names=REPORT_FILES, field=out_field)
    names = tuple(models)
    if not names:
        raise InputError("models", ",".join(names), "must list at least one model")
    config = SimulationConfig(
        episode=episode.strip().lower(),
        models=names,
        n_accounts=n_accounts,
        seed=seed,
        portfolio=portfolio,
        funding=funding,
        substeps=substeps,
        interpolation=interpolation,
        impact=ImpactModel(depth_oi_fraction=depth),
        run_with_impact=impact,
        agent_share=agents,
        agents=replay_agents() if agents > 0 else None,
    )
    result = simulate_crash(config, data=data, progress=progress)
    return SimulationReport(result, write_report(result, out, field=out_field))
