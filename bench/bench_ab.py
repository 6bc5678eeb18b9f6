"""Interleaved A/B of the paced reply in tmux: two or more trees, one round each in turn.

    python -m bench.bench_ab ROUNDS TREE [TREE...]

Each TREE is a checkout with its own virtual environment in TREE/.venv (a `git worktree` and
`python -m venv TREE/.venv && TREE/.venv/bin/pip install -e TREE`), run as
`TREE/.venv/bin/python -P -m glmchat` so that each imports its own code. `TREE|NAME=VALUE,...`
sets environment variables for that contender (`/work/wt|BENCH_REFRESH_RATE=6`). The reply is
bench_tmux's paced one (2,000 tokens at 100 tok/s after 200 reasoning tokens), without the
yardstick: the contenders are compared with each other, in the same hour, in turn.
"""

from __future__ import annotations

import os
import statistics
import sys

from bench.tmux_runs import reply


def _round(contender: str) -> tuple[float, float, float]:
    tree, _, settings = contender.partition("|")
    pairs = [pair.partition("=") for pair in settings.split(",") if pair]
    for name, _, value in pairs:
        os.environ[name] = value
    os.environ["BENCH_APP"] = f"{tree}/.venv/bin/python -P -m glmchat"
    try:
        out = reply(2000, delay=0.01, reasoning=200, yardstick=False)
    finally:
        for name, _, _ in pairs:
            os.environ.pop(name, None)
        os.environ.pop("BENCH_APP", None)
    return out["cpu_s"], out["cpu_whole_s"], out["lag_s"]


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    rounds, contenders = int(sys.argv[1]), sys.argv[2:]
    results: dict[str, list[tuple[float, float, float]]] = {c: [] for c in contenders}
    for n in range(rounds):
        turn = n % len(contenders)  # each round starts one further
        for contender in contenders[turn:] + contenders[:turn]:
            enter, whole, lag = _round(contender)
            results[contender].append((enter, whole, lag))
            ms = lag * 1000
            print(f"{contender}: from Enter {enter:.2f} s, whole {whole:.2f} s, lag {ms:.0f} ms")
    print("\n| contender | CPU from Enter s | CPU whole s | lag ms | rounds from Enter |")
    print("|---|---:|---:|---:|---|")
    for contender, runs in results.items():
        enter = statistics.median(r[0] for r in runs)
        whole = statistics.median(r[1] for r in runs)
        lag = statistics.median(r[2] for r in runs) * 1000
        each = ", ".join(f"{r[0]:.2f}" for r in runs)
        print(f"| {contender} | {enter:.2f} | {whole:.2f} | {lag:.0f} | {each} |")


if __name__ == "__main__":
    main()
