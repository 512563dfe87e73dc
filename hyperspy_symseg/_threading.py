"""Thread safety of numba's parallel kernels.

numba runs ``parallel=True`` kernels on one of three threading layers: TBB, OpenMP or
its own "workqueue", which it falls back to when neither TBB nor OpenMP can be loaded.
TBB and OpenMP may be entered from several Python threads at once; workqueue may not:
two threads launching parallel kernels at the same time (a user's thread pool, dask's
threaded scheduler on a lazy stack) abort the whole process (SIGABRT).

Every parallel kernel of the package is wrapped by :func:`serialised`: under workqueue
the launches are serialised by one process-wide lock (each launch still uses all of
numba's threads); under TBB or OpenMP the wrapper calls the kernel directly. The layer
is known only after the first parallel launch (``numba.threading_layer()``), so that
first launch runs under the lock too.

BLAS is the other thread pool in the process (NumPy's OpenBLAS): :func:`single_threaded_blas`
runs the small products of the reduction on one BLAS thread.

:func:`prepare_numba` sets up numba's compiler once, at ``import hyperspy_symseg``.

Pure Python and numba; no HyperSpy.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading

import numba

#: Held while a parallel kernel runs, when the threading layer is not thread-safe.
_LOCK = threading.RLock()

#: Threading layers that can be entered from several threads at once.
THREADSAFE_LAYERS = ("tbb", "omp")

_state: dict[str, bool | None] = {"safe": None}


def _detect() -> bool | None:
    """True/False when the layer in use is known to be thread-safe or not, else None."""
    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel kernel has run yet
        configured = str(numba.config.THREADING_LAYER).lower()
        if configured == "workqueue":
            _state["safe"] = False
        elif configured in THREADSAFE_LAYERS + ("safe", "threadsafe"):
            _state["safe"] = True
        return _state["safe"]
    _state["safe"] = layer in THREADSAFE_LAYERS
    return _state["safe"]


def layer_is_threadsafe() -> bool | None:
    """Whether numba's threading layer can run parallel kernels from several threads at once.

    None until it is known (before the first parallel kernel, unless
    ``NUMBA_THREADING_LAYER`` names the layer).
    """
    return _state["safe"] if _state["safe"] is not None else _detect()


def serialised(kernel):
    """Wrap a ``parallel=True`` numba kernel so concurrent calls never overlap under workqueue.

    The wrapper is called from Python only (never from other jitted code); the
    compiled kernel stays available as ``.kernel``.
    """

    @functools.wraps(kernel.py_func)
    def call(*args, **kwargs):
        safe = _state["safe"]
        if safe:
            return kernel(*args, **kwargs)
        with _LOCK:
            out = kernel(*args, **kwargs)
            if safe is None:
                _detect()
            return out

    call.kernel = kernel
    return call


_BLAS_LOCK = threading.Lock()
_blas: dict = {"depth": 0, "limiter": None, "controller": None}


def _blas_controller():
    """threadpoolctl's ``ThreadpoolController``, made once (None without threadpoolctl).

    ``threadpool_limits`` looks up the loaded thread-pool libraries on every call (1 ms
    each, 6 ms the first time); the controller does it once. It knows the BLAS libraries
    loaded when it is made: NumPy's, and SciPy's, which numba loads with its compiler at
    ``import hyperspy_symseg`` (:func:`prepare_numba`).
    """
    if _blas["controller"] is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
            return None
        with _BLAS_LOCK:
            if _blas["controller"] is None:
                _blas["controller"] = _blas_only_controller(ThreadpoolController)
    return _blas["controller"]


def _is_blas_file(filepath: str) -> bool:
    """Whether a shared library's file name can be one of the BLAS threadpoolctl knows.

    threadpoolctl's BLAS prefixes (libopenblas, libscipy_openblas, libblas, libblis,
    libflexiblas, libmkl_rt, mkl_rt) all hold "blas" or "mkl".
    """
    name = os.path.basename(filepath).lower()
    return "blas" in name or "mkl" in name


def _blas_only_controller(ThreadpoolController):
    """A controller of the loaded BLAS libraries only.

    A plain ``ThreadpoolController()`` opens and resolves every shared library of the
    process (~100 after ``import hyperspy.api``: 13-17 ms of a fresh process) to find the
    two BLAS. This one skips the files whose names no BLAS has; if threadpoolctl's
    internals change so that it finds nothing, the full scan is used.
    """
    try:
        class BlasOnly(ThreadpoolController):
            def _make_controller_from_path(self, filepath):
                if _is_blas_file(filepath):
                    super()._make_controller_from_path(filepath)

        controller = BlasOnly()
        if controller.select(user_api="blas").lib_controllers:
            return controller
    except Exception:  # pragma: no cover - threadpoolctl internals changed: the full scan below
        pass
    return ThreadpoolController()  # pragma: no cover - no BLAS found by name


@contextlib.contextmanager
def single_threaded_blas():
    """NumPy's BLAS on one thread inside the block (threadpoolctl; a no-op without it).

    The reduction's products are thin ((grid points, 81) x (81, 81) and the like): one
    BLAS thread does them at full speed, while several threads must meet at every
    block and, on a machine whose cores are busy with other work, wait for each
    other's time slices. Measured on a 2-core machine under load: a (55696, 81) float32
    ``X.T @ X`` took 0.06-2 s with 2 OpenBLAS threads and 11-18 ms with 1. With one
    thread the sums are also split the same way whatever the number of cores.

    The limit is process-wide (BLAS has no per-thread setting): nested and concurrent
    blocks (dask's threads labelling tiles) share it, the first sets it and the last
    one out restores the previous setting.
    """
    controller = _blas_controller()
    if controller is None:  # pragma: no cover - threadpoolctl comes with scikit-learn
        yield
        return
    with _BLAS_LOCK:
        if _blas["depth"] == 0:
            _blas["limiter"] = controller.limit(limits=1, user_api="blas")
        _blas["depth"] += 1
    try:
        yield
    finally:
        with _BLAS_LOCK:
            _blas["depth"] -= 1
            if _blas["depth"] == 0:
                _blas["limiter"].restore_original_limits()
                _blas["limiter"] = None


def num_threads() -> int:
    """``numba.get_num_threads()``, without starting numba's thread pool to ask.

    ``numba.get_num_threads()`` launches the threading layer's pool first (3-5 ms, and
    OpenMP's idle threads then spin on a shared machine), though the pipeline's small
    cases run only serial kernels on Python threads. Until the pool is launched nobody
    can have called ``numba.set_num_threads`` (it launches the pool too), so the count
    is numba's default, ``NUMBA_NUM_THREADS``.
    """
    from numba.np.ufunc import parallel

    if not getattr(parallel, "_is_initialized", True):
        return int(numba.config.NUMBA_NUM_THREADS)
    return numba.get_num_threads()


@numba.njit(cache=True, nogil=True)
def _first_kernel(x):
    return x + 1


def prepare_numba() -> None:
    """Set up numba's compiler context now rather than in the first kernel call.

    The first call of any jitted function in a process, even one loaded from numba's
    cache, builds numba's typing and target registries (its NumPy and Python
    implementations, the BLAS check): 0.3 s of CPU on a 2-core machine, the largest
    fixed cost of a fresh segmentation at strides 4-8. Called at import, it is paid
    once with the other imports instead of inside the first segmentation. It starts no
    threads (the first parallel kernel starts numba's thread pool, ~15 ms).
    """
    try:
        _first_kernel(1)
    except Exception:  # pragma: no cover - never let the import fail: the first kernel call pays it instead
        pass
