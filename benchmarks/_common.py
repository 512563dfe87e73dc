"""Helpers shared by the benchmarks: peak-memory sampling, timing, tables."""

from __future__ import annotations

import gc
import os
import statistics
import threading
import time
from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def rss_bytes() -> int:
    """Resident set size of this process, from /proc (Linux)."""
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakMemory:
    """Context manager sampling RSS every ``interval`` s; ``.peak`` is the rise over the start."""

    def __init__(self, interval: float = 0.002):
        self.interval = interval
        self.peak = 0

    def __enter__(self):
        gc.collect()
        self._base = rss_bytes()
        self._max = self._base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            self._max = max(self._max, rss_bytes())
            time.sleep(self.interval)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._max = max(self._max, rss_bytes())
        self.peak = self._max - self._base
        return False


def run_times(fn, repeat: int):
    """(list of seconds, last result) of ``repeat`` calls of ``fn``."""
    times, result = [], None
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return times, result


def median_time(fn, repeat: int):
    """(median seconds, last result) of ``repeat`` calls of ``fn``."""
    times, result = run_times(fn, repeat)
    return statistics.median(times), result


def print_table(header: list[str], rows: list[list], title: str | None = None) -> None:
    """A GitHub-flavoured markdown table on stdout."""
    if title:
        print(f"\n{title}\n")
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(header)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |")
