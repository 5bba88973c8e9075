"""One crash replay across margin models, each with impact off and on.

:func:`simulate_crash` builds the path of the episode from the shared 4-hourly data, the
population at its start, funds it under each model and replays the path twice per model
(impact off: the historical path; impact on: liquidation flow fed back). The result holds both
runs of every model; :meth:`SimulationResult.table` pairs them into one row per model.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from pmargin.errors import InputError, PmarginError
from pmargin.history import HistoricalMarkets, load_funding, load_price_history
from pmargin.margin import MODELS, get_model
from pmargin.simulate._cascade import (
    AgentHook,
    CascadeConfig,
    CascadeRun,
    run_cascade,
    run_cascade_reference,
)
from pmargin.simulate._impact import ImpactModel
from pmargin.simulate._path import EPISODE_KEYS, CrashPath, crash_path
from pmargin.simulate._population import (
    Population,
    VenueFunding,
    fund_population,
    generate_population,
    load_population,
)

__all__ = [
    "DEFAULT_MODELS",
    "SimulationConfig",
    "SimulationResult",
    "select_agents",
    "simulate_crash",
]

DEFAULT_MODELS = ("standard", "deribit", "derive-pmrm2", "pmargin-es")
"""Models replayed by default (Derive on its USDC-settled accounts; pmargin-es needs history)."""


@dataclass(frozen=True, slots=True)
class SimulationConfig:
    """What to replay.

    Attributes
    ----------
    episode
        Episode key (``ftx``, ``covid``, ``may2021``, ...).
    models
        Model names.
    n_accounts, seed, linear_share
        Population size, seed, share of USDC-settled accounts.
    portfolio
        A portfolio file to use instead of a generated population (balances as given).
    funding, min_cushion
        How each model's population is funded (:func:`fund_population`).
    substeps, interpolation
        Path points per 4-hour close and the interpolation between them.
    impact
        The impact model of the impact-on runs.
    run_without_impact, run_with_impact
        Which runs to make.
    cascade
        Rounds, liquidation, breakers, fund (its ``impact`` is replaced per run).
    reference
        Replay on the slow paths (:func:`~pmargin.simulate.run_cascade_reference`: full
        recompute each round, every liquidation margin rebuilt from scratch); same results,
        for timing the fast paths against.
    agent_share, agents
        The share of the population (:func:`select_agents`) that runs a hedging agent, and
        the factory of one run's agents from their account ids
        (:class:`pmargin.optimise.HedgingAgent` through the facade); share 0 or no factory:
        no agent, the replay is unchanged.
    """

    episode: str = "ftx"
    models: tuple[str, ...] = DEFAULT_MODELS
    n_accounts: int = 1000
    seed: int = 7
    linear_share: float = 0.2
    portfolio: Path | None = None
    funding: str = "leverage"
    min_cushion: float = 1.1
    substeps: int = 1
    interpolation: str = "bridge"
    impact: ImpactModel = field(default_factory=ImpactModel)
    run_without_impact: bool = True
    run_with_impact: bool = True
    cascade: CascadeConfig = field(default_factory=CascadeConfig)
    reference: bool = False
    agent_share: float = 0.0
    agents: Callable[[frozenset[str]], AgentHook] | None = None


def _check_share(share: float) -> None:
    if not 0.0 <= share <= 1.0:
        raise InputError("agents", share, "must be a share of the accounts in [0, 1]")


def select_agents(account_ids: Sequence[str], share: float, seed: int) -> frozenset[str]:
    """Return the ids of the accounts that run the hedging agent: ``round(share x n)``, seeded.

    The same accounts for every model (drawn from the population, a stream of ``seed`` of
    its own so the population's draws do not move). ``share`` in ``[0, 1]``.

    Raises
    ------
    InputError
        Field ``agents`` when ``share`` is outside ``[0, 1]``.
    """
    _check_share(share)
    n = len(account_ids)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xA6E4]))
    chosen = rng.permutation(n)[: round(share * n)]
    return frozenset(account_ids[int(i)] for i in chosen)


@dataclass(slots=True)
class SimulationResult:
    """Both runs of every model, the path and the population.

    Attributes
    ----------
    config, path, population
        The inputs.
    runs
        ``(model, impact)`` -> :class:`CascadeRun`.
    notes
        Models skipped and why.
    seconds
        Wall seconds: ``"data"``, ``"population"``, ``"total"``.
    """

    config: SimulationConfig
    path: CrashPath
    population: Population
    runs: dict[tuple[str, bool], CascadeRun]
    notes: list[str]
    seconds: dict[str, float]

    @property
    def models(self) -> list[str]:
        """Models with at least one run, in order."""
        return list(dict.fromkeys(m for m, _ in self.runs))

    def table(self) -> list[dict[str, Any]]:
        """One row per model: the impact-on run (else off) and what impact added."""
        rows = []
        for model in self.models:
            off = self.runs.get((model, False))
            on = self.runs.get((model, True))
            main = (on or off).summary()  # type: ignore[union-attr]
            row = dict(main)
            if off is not None and on is not None:
                a, b = off.summary(), on.summary()
                row["bad_debt_no_impact_usd"] = a["bad_debt_usd"]
                row["bad_debt_added_usd"] = b["bad_debt_usd"] - a["bad_debt_usd"]
                row["liquidated_accounts_no_impact"] = a["liquidated_accounts"]
                row["fills_added"] = b["fills"] - a["fills"]
            rows.append(row)
        return rows

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: config, path, the table, and every run's summary and step records."""
        p = self.path
        c = self.config
        return {
            "episode": p.episode,
            "title": p.title,
            "start": str(p.times[0]) + "Z",
            "end": str(p.times[-1]) + "Z",
            "steps": p.n_steps,
            "interpolation": p.interpolation,
            "substeps": p.substeps,
            "historical_move": {n: float(p.move()[j]) for j, n in enumerate(p.names)},
            "historical_drawdown": {n: float(p.drawdown()[j]) for j, n in enumerate(p.names)},
            "population": {
                "source": self.population.source,
                "accounts": self.population.n_accounts,
                "funding": c.funding,
                "min_cushion": c.min_cushion,
                "linear_share": c.linear_share,
            },
            "impact": {
                "depth_oi_fraction": c.impact.depth_oi_fraction,
                "depth_usd": dict(c.impact.depth_usd),
                "half_life_hours": c.impact.half_life_hours,
                "max_move": c.impact.max_move,
                "scale": c.impact.scale,
            },
            "models": self.table(),
            "runs": [
                {
                    "summary": run.summary(),
                    "steps": [_step_dict(s) for s in run.steps],
                    "rounds": [_round_dict(r) for r in run.rounds],
                }
                for run in self.runs.values()
            ],
            "notes": list(self.notes),
            "seconds": dict(self.seconds),
        }


def _step_dict(step: Any) -> dict[str, Any]:
    return {name: getattr(step, name) for name in step.__slots__}


def _round_dict(record: Any) -> dict[str, Any]:
    return {name: getattr(record, name) for name in record.__slots__}


def simulate_crash(
    config: SimulationConfig | None = None,
    *,
    data: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SimulationResult:
    """Replay a real crash on a population under each model, impact off and on.

    Parameters
    ----------
    config
        What to replay (defaults: FTX, the four default models, 1,000 accounts, seed 7).
    data
        Shared data folder (default ``$PMARGIN_SHARED_DATA``, else ``../shared/data``).
    progress
        Called as ``progress(done, total)`` after each replay: ``total`` is the number of
        models times the impact variants run (a skipped model counts as done).

    Raises
    ------
    InputError
        For an unknown episode or model, a missing data folder, or when no model can margin
        the population.
    """
    config = config or SimulationConfig()
    if config.episode not in EPISODE_KEYS:
        raise InputError("episode", config.episode, f"is not one of {'|'.join(EPISODE_KEYS)}")
    for name in config.models:
        if name not in MODELS:
            raise InputError("models", name, f"is not a known model ({', '.join(MODELS)})")
    _check_share(config.agent_share)
    clock = time.perf_counter()
    history = load_price_history(data, frequency="4h")
    daily = load_price_history(data, frequency="1d")
    markets = HistoricalMarkets(history, load_funding(data))
    path = crash_path(
        markets,
        config.episode,
        daily,
        substeps=config.substeps,
        interpolation=config.interpolation,
        seed=config.seed,
    )
    seconds = {"data": time.perf_counter() - clock}
    clock = time.perf_counter()
    if config.portfolio is not None:
        population = load_population(config.portfolio, path.market)
        funding = "as_given"
    else:
        population = generate_population(
            path.market,
            config.n_accounts,
            seed=config.seed,
            linear_share=config.linear_share,
            horizon=path.datetime_at(path.n_steps - 1),
        )
        funding = config.funding
    seconds["population"] = time.perf_counter() - clock
    agent_ids = select_agents(population.book.account_ids, config.agent_share, config.seed)
    runs: dict[tuple[str, bool], CascadeRun] = {}
    notes: list[str] = []
    variants = [
        v for v, on in ((False, config.run_without_impact), (True, config.run_with_impact)) if on
    ]
    total = len(config.models) * len(variants)
    for index, name in enumerate(config.models):
        if progress is not None:
            progress(index * len(variants), total)
        try:
            model = get_model(name)
            funded = fund_population(
                model,
                population,
                mode=funding,
                min_cushion=config.min_cushion,
                venue=VenueFunding(seed=config.seed),
            )
        except PmarginError as exc:
            notes.append(f"{name}: skipped ({exc})")
            continue
        if funded.excluded:
            notes.append(
                f"{name}: {funded.excluded} of {population.n_accounts} accounts are outside "
                "the model's scope and not replayed"
            )
        for k, with_impact in enumerate(variants):
            impact = replace(config.impact, enabled=with_impact)
            cascade = replace(config.cascade, impact=impact)
            if config.agents is not None and agent_ids:
                cascade = replace(cascade, agents=config.agents(agent_ids))
            try:
                replay = run_cascade_reference if config.reference else run_cascade
                runs[(name, with_impact)] = replay(model, funded, path, cascade)
            except PmarginError as exc:
                notes.append(f"{name}: replay failed ({exc})")
                break
            if progress is not None:
                progress(index * len(variants) + k + 1, total)
    if progress is not None:
        progress(total, total)
    if not runs:
        raise InputError("models", ",".join(config.models), "no model could be replayed")
    seconds["total"] = sum(seconds.values()) + sum(r.seconds for r in runs.values())
    return SimulationResult(config, path, population, runs, notes, seconds)
