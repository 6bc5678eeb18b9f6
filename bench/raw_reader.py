"""The yardstick process: Python imports httpx and reads the stream, nothing else.

    python bench/raw_reader.py URL

Run by bench_tmux.py (through bench/yardstick.py) as a child process, so that its whole CPU
(start-up included) is counted the same way as the app's. It prints one line: the seconds from
the request to the last byte, the moment of the last byte (`time.perf_counter()`, which is
CLOCK_MONOTONIC on Linux and so comparable with the server's clock in another process) and the
bytes read.
"""

from __future__ import annotations

import sys
import time

import httpx


def main() -> None:
    size = 0
    last = start = time.perf_counter()
    with httpx.Client(timeout=None) as client:
        with client.stream("POST", sys.argv[1] + "/chat/completions") as response:
            for chunk in response.iter_raw():
                size += len(chunk)
                last = time.perf_counter()
    print(f"{last - start:.6f} {last:.6f} {size}")


if __name__ == "__main__":
    main()
