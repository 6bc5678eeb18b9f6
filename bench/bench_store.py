"""Session store speed on a large history: list, search and open over 10,000 conversations."""

from __future__ import annotations

import argparse
import itertools
import random
import re
import resource
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from glmchat.store import Conversation, SessionStore, StoredMessage, StreamRecorder

RUNS = 9
STDLIB_MODULES = (
    "argparse asyncio collections concurrent.futures contextlib csv dataclasses datetime "
    "decimal email enum functools http.client inspect io itertools json logging os pathlib "
    "pickle re sched selectors shutil socket sqlite3 statistics string subprocess tarfile "
    "tempfile textwrap threading typing unittest urllib.request uuid zipfile"
).split()


def vocabulary() -> tuple[list[str], list[int]]:
    """Words and their frequencies from the standard library's docs: real English, Zipf-like."""
    import importlib
    import pydoc

    counts: Counter[str] = Counter()
    for name in STDLIB_MODULES:
        text = pydoc.render_doc(importlib.import_module(name), renderer=pydoc.plaintext)
        counts.update(w.lower() for w in re.findall(r"[A-Za-z][a-z]{1,14}", text))
    words, freqs = zip(*counts.most_common(8000), strict=True)
    return list(words), list(freqs)


class TextMaker:
    def __init__(self, seed: int = 1) -> None:
        self.rng = random.Random(seed)
        self.words, weights = vocabulary()
        self.cum_weights = list(itertools.accumulate(weights))

    def text(self, low: int, high: int) -> str:
        target = self.rng.randint(low, high)
        out: list[str] = []
        size = 0
        while size < target:
            sentence = self.rng.choices(
                self.words, cum_weights=self.cum_weights, k=self.rng.randint(6, 18)
            )
            line = " ".join(sentence).capitalize() + "."
            out.append(line)
            size += len(line) + 1
        return " ".join(out)


def build(store: SessionStore, conversations: int, messages: int, maker: TextMaker) -> None:
    # Through the import path: one transaction per batch, executemany per conversation.
    start = time.perf_counter()
    base = time.time() - conversations * 600
    batch: list[Conversation] = []
    for n in range(conversations):
        stamp = _iso(base + n * 600)
        thinking = n % 2 == 0
        msgs = []
        for p in range(messages):
            user = p % 2 == 0
            msgs.append(
                StoredMessage(
                    id=0,
                    conversation_id="",
                    position=p,
                    role="user" if user else "assistant",
                    content=maker.text(80, 300) if user else maker.text(200, 700),
                    reasoning="" if user or not thinking else maker.text(150, 500),
                    model=None if user else "glm-4.5",
                    provider=None if user else "zai",
                    thinking=None if user else thinking,
                    usage=None if user else {"prompt_tokens": 900, "completion_tokens": 150},
                    started=stamp,
                    finished=stamp,
                    status="complete",
                    finish_reason=None if user else "stop",
                )
            )
        batch.append(
            Conversation(
                id=f"{maker.rng.getrandbits(48):012x}",
                title=msgs[0].content.split(".")[0][:80],
                created=stamp,
                updated=stamp,
                model="glm-4.5",
                provider="zai",
                thinking=thinking,
                system_prompt=None,
                messages=tuple(msgs),
            )
        )
        if len(batch) == 1000:
            store.insert_conversations(batch)
            batch = []
            print(f"  built {n + 1} conversations", file=sys.stderr, end="\r")
    if batch:
        store.insert_conversations(batch)
    print(f"  built in {time.perf_counter() - start:.1f} s" + " " * 20, file=sys.stderr)


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + ".000Z"


def measure(name: str, action: Callable[[], int]) -> tuple[str, str, str, str]:
    times, rows = [], 0
    for _ in range(RUNS):
        start = time.perf_counter()
        rows = action()
        times.append((time.perf_counter() - start) * 1000)
    return name, f"{statistics.median(times):.2f}", f"{max(times):.2f}", str(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=20)
    args = parser.parse_args()

    maker = TextMaker()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "glmchat.db"
        with SessionStore(path) as store:
            build(store, args.conversations, args.messages, maker)
        store = SessionStore(path)  # measured on a freshly opened store
        ids = [s.id for s in store.list_conversations(limit=args.conversations)]
        rng = random.Random(7)
        common, rare = maker.words[40], maker.words[3000]
        queries = [common, rare, f"{maker.words[60]} {maker.words[400]}", maker.words[500][:4]]
        # Unspaced text, matched as substrings (the corpus is English: these scan the most):
        # three characters and more go through the trigram index, one or two are a bounded scan.
        queries += ["数据库索引", "索引", f"{common} 索引", "🎉"]

        rows = [measure("list 50 most recent", lambda: len(store.list_conversations(limit=50)))]
        for query in queries:
            rows.append(
                measure(
                    f"search {query!r}",
                    lambda q=query: len(store.list_conversations(limit=50, search=q)),
                )
            )
        rows.append(
            measure(
                f"search {common!r} + reasoning",
                lambda: len(
                    store.list_conversations(limit=50, search=common, include_reasoning=True)
                ),
            )
        )
        rows.append(
            measure(
                "open one (get_conversation)",
                lambda: len(store.get_conversation(rng.choice(ids)).messages),
            )
        )
        rows.append(
            measure(
                "open by 6-char prefix", lambda: len(store.get_conversation(ids[5][:6]).messages)
            )
        )
        rows.append(measure("history()", lambda: len(store.history(rng.choice(ids)))))

        target = ids[0]
        answer = maker.text(4000, 4000)
        mid = store.begin_assistant(target, model="glm-4.5", provider="zai", thinking=True)
        recorder = StreamRecorder(store, mid, interval=0.0)
        recorder.add_content(answer)
        rows.append(
            measure(
                "checkpoint (4 KB answer)",
                lambda: (recorder.add_content(answer[:40]), 1)[1],
            )
        )
        store.close()

        size = sum(p.stat().st_size for p in Path(tmp).iterdir()) / 1e6
        with SessionStore(path, use_fts=False) as fallback:  # for comparison; not a target
            rows.append(
                measure(
                    f"search {rare!r} (LIKE fallback)",
                    lambda: len(fallback.list_conversations(limit=50, search=rare)),
                )
            )

    header = ("operation", "ms median", "ms max", "rows")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    print(f"{args.conversations} conversations x {args.messages} messages, {RUNS} runs each")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        print("| " + " | ".join(cells) + " |")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"database size {size:.0f} MB (with WAL); peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()
