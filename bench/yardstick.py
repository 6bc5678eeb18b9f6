"""The yardstick process (bench/raw_reader.py) run as a child, measured as the app is.

Its CPU is the whole process's (interpreter start, `import httpx`, the read), from the kernel's
rusage of the reaped child (`os.wait4`); its wall time is from spawning it to its exit.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

READER = Path(__file__).with_name("raw_reader.py")


@dataclass(frozen=True)
class Yardstick:
    wall_s: float  # spawn to exit
    cpu_s: float  # user + system, the whole process
    read_s: float  # from the request to the last byte, inside the process
    last_byte: float  # perf_counter() of the last byte read (CLOCK_MONOTONIC)
    size: int  # bytes read

    def lag(self, last_write: float) -> float:
        """Seconds from the server's last write to the last byte read."""
        return self.last_byte - last_write


def read_stream(url: str) -> Yardstick:
    """Spawn the reader on `url` with the interpreter the bench runs on, and wait for it."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(READER), url], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    if proc.returncode != 0:
        raise RuntimeError(f"the yardstick process failed (exit {proc.returncode})")
    read_s, last_byte, size = out.split()
    return Yardstick(
        wall, usage.ru_utime + usage.ru_stime, float(read_s), float(last_byte), int(size)
    )
