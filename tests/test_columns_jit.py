"""Parallel and serial builds of one kernel keep separate numba cache entries (columns._jit).

numba's cache keys entries by function and argument types, not by ``parallel=True``: two
dispatchers of one function used to share one entry, and the column sweeps, compiled
serially first, then ran on one thread in their "parallel" build too.
"""

import numba
import numpy as np
import pytest

from hyperspy_symseg.columns import _detect, _jit, _pairs, _refine, _split


def _thread_ids(out):
    for i in numba.prange(out.shape[0]):
        out[i] = numba.get_thread_id()


_ids_parallel, _ids_serial = _jit.parallel_and_serial(_thread_ids)


def test_parallel_build_runs_on_several_threads_after_the_serial_one_is_cached():
    if numba.get_num_threads() < 2:
        pytest.skip("one numba thread")
    out = np.full(1000, -1, np.int64)
    _ids_serial(out)  # compiled (or loaded) first, as in locate_columns
    assert set(out.tolist()) == {0}
    out[:] = -1
    _ids_parallel(out)
    # numba's static schedule gives every thread a contiguous share of the 1000 iterations
    assert len(set(out.tolist())) == numba.get_num_threads()
    assert out.min() == 0


@pytest.mark.parametrize(("parallel", "serial"), [
    (_refine._sweep, _refine._sweep_serial),
    (_pairs._sweep_pairs, _pairs._sweep_pairs_serial),
    (_split._split, _split._split_serial),
    (_detect._centre_of_mass, _detect._centre_of_mass_serial),
    (_detect._square_max, _detect._square_max_serial),
    (_detect._smooth, _detect._smooth_serial),
    (_detect._bilinear, _detect._bilinear_serial),
    (_ids_parallel, _ids_serial),
])
def test_column_kernels_have_separate_cache_files(parallel, serial):
    assert parallel.kernel.targetoptions.get("parallel") is True
    assert not serial.targetoptions.get("parallel")
    par_index = parallel.kernel._cache._cache_file._index_name
    ser_index = serial._cache._cache_file._index_name
    assert par_index != ser_index
    assert "__parallel" in par_index


def test_renamed_copy_is_the_same_function():
    def f(x, y=2, *, z=3):
        return x * y + z

    g = _jit._renamed(f, "__copy")
    assert g.__qualname__.endswith("f__copy")
    assert g(5) == f(5) == 13
    assert g(5, 3, z=1) == 16


@pytest.mark.parametrize(("load", "free"), [(0.3, True), (1.2, True), (1.9, False), (6.0, False)])
def test_small_kernels_run_in_parallel_only_when_a_core_is_free(monkeypatch, load, free):
    """The 1-minute load average decides the small launches (the two builds give the same numbers);
    large ones are parallel whatever the load, tiny ones never."""
    import os

    monkeypatch.setattr(numba.config, "NUMBA_NUM_THREADS", 2)
    monkeypatch.setattr(_jit, "others_running", lambda: None)  # no instantaneous count: the load average
    monkeypatch.setattr(os, "getloadavg", lambda: (load, 0.0, 0.0))
    assert _jit.cores_are_free() is free
    assert _refine._parallel_pays(400) is free and _detect._parallel_pays(384 * 384) is free
    assert _refine._parallel_pays(_refine.MIN_PARALLEL_BUSY) and _detect._parallel_pays(_detect.MIN_PARALLEL_PIXELS_BUSY)
    assert not _refine._parallel_pays(_refine.MIN_PARALLEL - 1)
    assert not _detect._parallel_pays(_detect.MIN_PARALLEL_PIXELS - 1)


@pytest.mark.parametrize(("threads", "others", "free"), [(2, 0, True), (2, 1, False), (2, 3, False), (4, 2, True),
                                                         (4, 3, False)])
def test_the_instantaneous_count_of_other_threads_decides_where_known(monkeypatch, threads, others, free):
    """Where others_running() can tell, it decides, whatever the (lagging) load average says."""
    import os

    monkeypatch.setattr(numba.config, "NUMBA_NUM_THREADS", threads)
    monkeypatch.setattr(_jit, "others_running", lambda: others)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0 if not free else 9.0, 0.0, 0.0))
    assert _jit.cores_are_free() is free
    assert _refine._parallel_pays(400) is free


@pytest.mark.skipif(not __import__("os").path.exists("/proc/loadavg"), reason="no /proc")
def test_others_running_sees_a_busy_process_and_not_this_ones_threads():
    import subprocess
    import sys
    import threading
    import time

    # this process's own busy thread is not another process
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            pass

    def readings_while(start, end, wait, reduce, n):
        """``reduce`` of ``n`` readings taken ``wait`` s after ``start()``, ``end()`` after them."""
        start()
        try:
            time.sleep(wait)
            return reduce(_jit._read_others_running() for _ in range(n))
        finally:
            end()

    baseline = min(_jit._read_others_running() for _ in range(20))
    spinner = threading.Thread(target=spin)
    with_own = readings_while(spinner.start, lambda: (stop.set(), spinner.join()), 0.05, min, 20)
    assert isinstance(baseline, int) and baseline >= 0
    assert with_own <= baseline  # (minima of 20 readings: a busy process of its own would be in both)
    child = []
    seen = readings_while(lambda: child.append(subprocess.Popen([sys.executable, "-c", "while True: pass"])),
                          lambda: (child[0].kill(), child[0].wait()), 0.3, max, 50)
    assert seen >= 1
    # the cached reading: one file read per OTHERS_TTL
    _jit._others_cache[:] = [-1.0, None]
    first = _jit.others_running()
    assert _jit._others_cache[1] == first and _jit.others_running() == first
