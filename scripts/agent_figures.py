"""Measure the hedging agent in the crash replays and draw docs/img/agent-*.png.

For each episode (COVID, FTX) and model, the same seeded population is replayed with price
impact on, once without agents and once with a seeded share of the accounts running the
agent (``pmargin simulate --agents SHARE``; the shipped ``optimise/agent.toml``). Prints one
Markdown table (liquidations, bad debt, insurance fund draws, hedging costs) and writes the
JSON of every run's summary and the plots:

* ``agent-outcomes.png``: liquidated accounts, fund draws and bad debt, without and with;
* ``agent-fund.png``: the insurance fund over each episode, without and with;
* ``agent-costs.png``: what the agents paid in spread against what the venue's accounts
  were spared (liquidation penalties and slippage).

Usage: ``python scripts/agent_figures.py [--accounts 300] [--share 0.5] [--seed 7]
[--models deribit,standard] [--episodes covid,ftx] [--out docs/img] [--json FILE]``.
Needs the shared data (``$PMARGIN_SHARED_DATA``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from pmargin.engine import replay_agents
from pmargin.simulate import SimulationConfig, SimulationResult, simulate_crash

KEYS = (
    "accounts",
    "liquidated_accounts",
    "fills",
    "penalties_usd",
    "slippage_usd",
    "fund_draws_usd",
    "fund_min_usd",
    "bad_debt_usd",
    "bankrupt_accounts",
    "agent_hedges",
    "agent_trades",
    "agent_targets_missed",
    "hedge_cost_usd",
    "hedge_notional_usd",
    "conservation_error_usd",
    "seconds",
)


def replay(episode: str, models: tuple[str, ...], accounts: int, seed: int, share: float) -> Any:
    """One episode, every model, impact on, ``share`` of the accounts running the agent."""
    config = SimulationConfig(
        episode=episode,
        models=models,
        n_accounts=accounts,
        seed=seed,
        run_without_impact=False,
        agent_share=share,
        agents=replay_agents() if share > 0 else None,
    )
    return simulate_crash(config)


def _bars(rows: list[dict[str, Any]], file: Path) -> None:
    labels = [f"{r['episode']}\n{r['model']}" for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(12, 4))
    for ax, key, title in zip(
        axes,
        ("liquidated_accounts", "fund_draws_usd", "bad_debt_usd"),
        ("liquidated accounts", "insurance fund draws (k USD)", "bad debt (k USD)"),
        strict=True,
    ):
        scale = 1.0 if key == "liquidated_accounts" else 1e3
        x = range(len(rows))
        ax.bar([i - 0.2 for i in x], [r["without"][key] / scale for r in rows], 0.4,
               label="no agents")  # fmt: skip
        ax.bar([i + 0.2 for i in x], [r["with"][key] / scale for r in rows], 0.4,
               label="with agents")  # fmt: skip
        ax.set_xticks(list(x), labels, fontsize=8)
        ax.set_title(title, fontsize=10)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(file, dpi=110)
    plt.close(fig)


def _fund(results: dict[tuple[str, float], SimulationResult], file: Path) -> None:
    episodes = list(dict.fromkeys(e for e, _ in results))
    fig, axes = plt.subplots(1, len(episodes), figsize=(6 * len(episodes), 4), squeeze=False)
    for ax, episode in zip(axes[0], episodes, strict=True):
        for (e, share), result in results.items():
            if e != episode:
                continue
            times = result.path.times.astype("datetime64[s]").astype(object)
            for (model, _), run in result.runs.items():
                ax.plot(
                    times,
                    [s.fund_usd / 1e6 for s in run.steps],
                    linestyle="-" if share > 0 else "--",
                    label=f"{model} ({'agents' if share > 0 else 'no agents'})",
                )
        ax.set_title(f"{episode}: insurance fund (M USD)", fontsize=10)
        ax.legend(fontsize=7)
        fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(file, dpi=110)
    plt.close(fig)


def _costs(rows: list[dict[str, Any]], file: Path) -> None:
    labels = [f"{r['episode']}\n{r['model']}" for r in rows]
    spared = [
        (r["without"]["penalties_usd"] + r["without"]["slippage_usd"])
        - (r["with"]["penalties_usd"] + r["with"]["slippage_usd"])
        for r in rows
    ]
    paid = [r["with"]["hedge_cost_usd"] for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4))
    x = range(len(rows))
    ax.bar([i - 0.2 for i in x], [v / 1e3 for v in paid], 0.4, label="agents' spread paid")
    ax.bar([i + 0.2 for i in x], [v / 1e3 for v in spared], 0.4,
           label="penalties + slippage spared")  # fmt: skip
    ax.set_xticks(list(x), labels, fontsize=8)
    ax.set_ylabel("k USD")
    ax.axhline(0.0, color="black", linewidth=0.5)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(file, dpi=110)
    plt.close(fig)


def main() -> None:
    """Run the replays, print the table, write the JSON and the plots."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=300)
    parser.add_argument("--share", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--models", default="deribit,standard")
    parser.add_argument("--episodes", default="covid,ftx")
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    parser.add_argument("--json", type=Path, default=Path("build/agent-figures.json"))
    args = parser.parse_args()
    models = tuple(m.strip() for m in args.models.split(",") if m.strip())
    results: dict[tuple[str, float], SimulationResult] = {}
    rows: list[dict[str, Any]] = []
    for episode in (e.strip() for e in args.episodes.split(",") if e.strip()):
        for share in (0.0, args.share):
            clock = time.perf_counter()
            results[episode, share] = replay(episode, models, args.accounts, args.seed, share)
            print(f"{episode} share {share}: {time.perf_counter() - clock:.0f} s", flush=True)
        for model in models:
            off = results[episode, 0.0].runs.get((model, True))
            on = results[episode, args.share].runs.get((model, True))
            if off is None or on is None:
                continue
            a, b = off.summary(), on.summary()
            rows.append({
                "episode": episode, "model": model, "share": args.share,
                "without": {k: a[k] for k in KEYS}, "with": {k: b[k] for k in KEYS},
            })  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    _bars(rows, args.out / "agent-outcomes.png")
    _fund(results, args.out / "agent-fund.png")
    _costs(rows, args.out / "agent-costs.png")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                     "rows": rows}, indent=1))  # fmt: skip
    print("| episode | model | agents | liquidated | fills | penalties | fund draws | bad debt "
          "| bankrupt | hedges | hedge cost | targets missed |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        for label, s in (("none", r["without"]), (f"{r['share']:.0%}", r["with"])):
            print(
                f"| {r['episode']} | {r['model']} | {label} | {s['liquidated_accounts']} | "
                f"{s['fills']} | {s['penalties_usd']:,.0f} | {s['fund_draws_usd']:,.0f} | "
                f"{s['bad_debt_usd']:,.0f} | {s['bankrupt_accounts']} | {s['agent_hedges']:.0f} | "
                f"{s['hedge_cost_usd']:,.0f} | {s['agent_targets_missed']:.0f} |"
            )


if __name__ == "__main__":
    main()
