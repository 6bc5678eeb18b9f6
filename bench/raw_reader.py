"""The yardstick process: Python imports httpx and reads the stream, nothing else.

    python -m bench.raw_reader URL

Run by bench_tmux.py as a child process, so that its whole CPU (start-up included) is counted
the same way as the app's.
"""

from __future__ import annotations

import sys

import httpx


def main() -> None:
    with httpx.Client(timeout=None) as client:
        with client.stream("POST", sys.argv[1] + "/chat/completions") as response:
            for _ in response.iter_raw():
                pass


if __name__ == "__main__":
    main()
