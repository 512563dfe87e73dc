"""Parallel and serial numba builds of one kernel that do not share a cache entry (no HyperSpy).

numba's on-disk cache names its files after the Python function (module, qualified
name, first line) and keys the entries by the argument types only, not by the
compilation flags. Two dispatchers of the *same* function, one ``parallel=True`` and
one serial, therefore share one cache entry: whichever compiled first is what both
load from then on. Here the serial build (the small sweeps) always came first, so the
"parallel" column sweeps ran on one thread: 190 ms instead of 100-110 ms for the 4,200
columns of a 1024 x 1024 image on 2 cores.

:func:`parallel_and_serial` compiles the parallel build from a copy of the function
with its own qualified name (``<name>__parallel``), so each build has its own cache
file.
"""

from __future__ import annotations

import os
import time
import types

import numba

from .._threading import serialised


def _renamed(func, suffix: str):
    """A copy of the plain function ``func`` whose (qualified) name ends in ``suffix``."""
    copy = types.FunctionType(func.__code__, func.__globals__, func.__name__ + suffix, func.__defaults__,
                              func.__closure__)
    copy.__qualname__ = func.__qualname__ + suffix
    copy.__module__ = func.__module__
    copy.__doc__ = func.__doc__
    copy.__kwdefaults__ = func.__kwdefaults__
    return copy


def parallel_and_serial(func):
    """``(parallel, serial)``: a serialised ``parallel=True`` build of ``func`` and a serial one.

    Both are cached (``cache=True``, ``nogil=True``) in separate cache files; the
    parallel one is wrapped by :func:`hyperspy_symseg._threading.serialised`.
    """
    parallel = serialised(numba.njit(parallel=True, cache=True, nogil=True)(_renamed(func, "__parallel")))
    serial = numba.njit(cache=True, nogil=True)(func)
    return parallel, serial


def others_running() -> int | None:
    """How many threads of *other* processes are running or runnable now (Linux), else None.

    The machine's runnable count (``/proc/loadavg``'s fourth field) less this process's
    own running threads (``/proc/self/task/*/stat``: the calling thread, and numba's
    workers while they spin after a parallel region). Instantaneous, unlike the load
    average, which stays high for a minute after work that has ended (a benchmark's own
    previous step) and low for a minute after another process started. Reading it
    costs ~0.1 ms: an answer is reused for ``OTHERS_TTL`` seconds.
    """
    now = time.monotonic()
    if now - _others_cache[0] < OTHERS_TTL:
        return _others_cache[1]
    _others_cache[:] = [now, _read_others_running()]
    return _others_cache[1]


#: Seconds for which :func:`others_running` reuses its last reading (a column search
#: asks before each of its ~15 kernel launches).
OTHERS_TTL = 0.01
_others_cache: list = [-1.0, None]


def _read_others_running() -> int | None:
    try:
        with open("/proc/loadavg", "rb") as f:
            runnable = int(f.read().split()[3].split(b"/")[0])
        own = 0
        for tid in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{tid}/stat", "rb") as f:
                    stat = f.read()
            except OSError:  # the thread ended meanwhile
                continue
            own += stat[stat.rindex(b")") + 2:stat.rindex(b")") + 3] == b"R"
    except (OSError, ValueError, IndexError):
        return None
    return max(runnable - own, 0)


def cores_are_free() -> bool:
    """Whether the machine has a core to spare for numba's worker threads.

    A parallel region whose worker shares its core with another busy process waits for
    that worker's time slices (5-10 ms a launch measured on a shared 2-core machine),
    so small kernels are launched in parallel only on a free machine: where
    :func:`others_running` can tell, when fewer threads of other processes are running
    now than numba's thread count minus 1.5 (none on 2 threads); elsewhere when the
    1-minute load average (the calling thread's own work counts about 1) is below the
    thread count minus one half. True where neither is known. Only the choice between
    the two builds depends on it: they give the same numbers.
    """
    threads = numba.config.NUMBA_NUM_THREADS
    others = others_running()
    if others is not None:
        return others < threads - 1.5
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # pragma: no cover - no load average on this platform
        return True
    return load < threads - 0.5


def parallel_pays(size: int, minimum: int, busy_minimum: int) -> bool:
    """Whether a kernel of ``size`` (pixels, columns) should run on numba's threads: from
    ``minimum`` on when a core is free (:func:`cores_are_free`), from ``busy_minimum`` on always."""
    return size >= busy_minimum or (size >= minimum and cores_are_free())
