"""`glmchat usage` on a large history: 10,000 conversations of 20 messages (100,000 answers).

Times the store's report by day, model and conversation (all time, and the last 30 days),
the budget's query, and the whole command in a fresh process; beside them, the same sums
read from the messages table with json_extract (what the usage_hours ledger replaces)."""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from glmchat.store import Conversation, SessionStore, StoredMessage

RUNS = 9
MODELS = (
    ("zai", "glm-4.5"),
    ("zai", "glm-4.6"),
    ("zai", "glm-5.3"),
    ("openrouter", "z-ai/glm-4.7"),
)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def build(store: SessionStore, conversations: int, messages: int, days: int) -> float:
    """Through the import path (the ledger's insert trigger counts every answer)."""
    rng = random.Random(1)
    words = [f"w{n}" for n in range(2000)]
    start = time.perf_counter()
    now = datetime.now(UTC)
    batch: list[Conversation] = []
    for n in range(conversations):
        provider, model = MODELS[n % len(MODELS)]
        began = now - timedelta(days=days * n / conversations)
        msgs = []
        for p in range(messages):
            stamp = _iso(began + timedelta(minutes=p))
            user = p % 2 == 0
            text = " ".join(rng.choices(words, k=rng.randint(40, 120)))
            prompt = rng.randint(200, 30_000)
            usage = None
            cost = None
            if not user:
                usage = {
                    "prompt_tokens": prompt,
                    "completion_tokens": rng.randint(50, 3000),
                    "cached_tokens": prompt // 2,
                    "reasoning_tokens": rng.randint(0, 1000),
                    "total_tokens": prompt + 100,
                }
                cost = rng.random() / 100
            msgs.append(
                StoredMessage(
                    id=0,
                    conversation_id="",
                    position=p,
                    role="user" if user else "assistant",
                    content=text,
                    model=model,
                    provider=provider,
                    usage=usage,
                    started=stamp,
                    finished=stamp,
                    cost=cost,
                    cost_source=None if user else "catalogue",
                )
            )
        batch.append(
            Conversation(
                id=f"{n:012x}",
                title=f"conversation {n}",
                created=_iso(began),
                updated=_iso(began),
                model=model,
                provider=provider,
                thinking=True,
                system_prompt=None,
                messages=tuple(msgs),
            )
        )
        if len(batch) == 500:
            store.insert_conversations(batch)
            batch.clear()
    if batch:
        store.insert_conversations(batch)
    return time.perf_counter() - start


def timed(fn: Callable[[], object], runs: int = RUNS) -> tuple[float, float]:
    fn()  # warm the page cache
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000, max(times) * 1000


def raw_messages_scan(store: SessionStore) -> list[object]:
    """The sums by model straight from the messages table (no ledger)."""
    return store._conn.execute(
        "SELECT provider, model, count(*), sum(json_extract(usage, '$.prompt_tokens')), "
        "sum(json_extract(usage, '$.cached_tokens')), "
        "sum(json_extract(usage, '$.completion_tokens')), "
        "sum(json_extract(usage, '$.reasoning_tokens')), total(cost) FROM messages "
        "WHERE role = 'assistant' GROUP BY provider, model"
    ).fetchall()


def command(data_dir: Path, *args: str) -> float:
    env = dict(os.environ, GLMCHAT_DATA_DIR=str(data_dir), GLMCHAT_CONFIG_DIR=str(data_dir))
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "glmchat", "usage", *args],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        store = SessionStore(data / "glmchat.db")
        seconds = build(store, args.conversations, args.messages, args.days)
        size = (data / "glmchat.db").stat().st_size / 1e6
        ledger = store._conn.execute("SELECT count(*) FROM usage_hours").fetchone()[0]
        print(
            f"{args.conversations:,} conversations x {args.messages} messages over "
            f"{args.days} days: built in {seconds:.1f} s, {size:.0f} MB, {ledger:,} ledger rows"
        )
        month = (datetime.now().astimezone() - timedelta(days=30)).date()
        rows: list[tuple[str, tuple[float, float]]] = []
        for by in ("day", "model", "conversation"):
            rows.append((f"report --by {by}", timed(lambda by=by: store.usage_report(by))))
            rows.append(
                (
                    f"report --by {by} --since (30 days)",
                    timed(lambda by=by: store.usage_report(by, since=month)),
                )
            )
        rows.append(
            (
                "budget: spent this month",
                timed(
                    lambda: store.spent_since(
                        datetime.now().astimezone().replace(day=1, hour=0, minute=0)
                    )
                ),
            )
        )
        rows.append(
            ("no ledger: json_extract over messages", timed(lambda: raw_messages_scan(store), 3))
        )
        store.close()
        print(f"{'query':<44} {'median ms':>10} {'max ms':>8}")
        for name, (median, worst) in rows:
            print(f"{name:<44} {median:>10.1f} {worst:>8.1f}")
        for extra in ((), ("--by", "model"), ("--by", "conversation", "--json")):
            runs = [command(data, *extra) for _ in range(5)]
            label = "glmchat usage " + " ".join(extra)
            print(
                f"{label + ' (new process)':<44} {statistics.median(runs):>10.1f} {max(runs):>8.1f}"
            )
        empty = Path(tmp) / "empty"
        empty.mkdir()
        runs = [_version(empty) for _ in range(5)]
        print(f"{'glmchat --version (process start alone)':<44} {statistics.median(runs):>10.1f}")
        runs = [_interpreter() for _ in range(5)]
        print(f"{'python -c pass (the interpreter alone)':<44} {statistics.median(runs):>10.1f}")


def _interpreter() -> float:
    """The floor under every new-process row: this interpreter starting and stopping."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return (time.perf_counter() - start) * 1000


def _version(data_dir: Path) -> float:
    env = dict(os.environ, GLMCHAT_DATA_DIR=str(data_dir), GLMCHAT_CONFIG_DIR=str(data_dir))
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "glmchat", "--version"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return (time.perf_counter() - start) * 1000


if __name__ == "__main__":
    main()
