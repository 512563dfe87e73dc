"""This machine's memory bandwidth, and the bytes each pipeline step moves (``bench_lcm.py --bandwidth``).

The bandwidth is measured STREAM-like (McCalpin's kernels, arrays many times the
last-level cache): ``read`` (a sum), ``write`` (a fill), ``copy`` (``c = a``) and
``triad`` (``a = b + s c``), numba ``prange`` loops on 1 and on 2 threads, and NumPy's
``np.copyto`` (one thread) beside them. Bytes are counted as STREAM counts them (8 per
float64 read or written; the read-for-ownership of an ordinary store is not counted, it is
part of the measured time); the best of ``repeat`` rounds, GB = 1e9 bytes.

The accounting takes the arrays of a finished segmentation (``SymmetrySegmentation``) and
of the descriptor prelude (``translation._prelude`` on the same image): their shapes and
dtypes give the bytes, nothing is assumed. Per step, the *minimum* is what any
implementation must read from and write to memory: the descriptors write their array;
the PCA reads it twice (the covariance, then the projection on axes that depend on all of
it: 9x the cache, it cannot stay there) and writes the loadings; k-means reads the
loadings once and writes one label per sample; the label image reads the grid labels and
writes the image. *As coded* adds the passes the code makes (prelude arrays, int64
labels, the per-cluster distances HyperSpy's ``learning_results`` hold, ...), listed in
the notes.
"""

from __future__ import annotations

import time

import numba
import numpy as np

#: float64 elements per array: 128 MiB, 4x the 32 MiB L3 of the 2-core benchmark machine.
STREAM_ELEMENTS = 2**24


@numba.njit(parallel=True, nogil=True, fastmath=True)
def stream_read(a):
    """Sum of ``a`` (reads 8 bytes per element); fastmath lets the sum use SIMD lanes and several
    accumulators, else one chain of dependent adds (1 per ~4 cycles) and not memory sets the time."""
    total = 0.0
    for i in numba.prange(a.size):
        total += a[i]
    return total


@numba.njit(parallel=True, nogil=True)
def stream_write(a, value):
    """``a[:] = value`` (writes 8 bytes per element)."""
    for i in numba.prange(a.size):
        a[i] = value


@numba.njit(parallel=True, nogil=True)
def stream_copy(a, c):
    """``c[:] = a`` (16 bytes per element)."""
    for i in numba.prange(a.size):
        c[i] = a[i]


@numba.njit(parallel=True, nogil=True)
def stream_triad(a, b, c, s):
    """``a[:] = b + s * c`` (24 bytes per element)."""
    for i in numba.prange(a.size):
        a[i] = b[i] + s * c[i]


def measure_bandwidth(n: int = STREAM_ELEMENTS, repeat: int = 20, threads=(1, 2)) -> list[dict]:
    """STREAM-like bandwidths: one dict per (kernel, threads) with ``bytes``, best ``seconds`` and ``gbs``.

    The kernels run in rounds (every kernel and thread count once per round), so a quiet
    moment of a shared machine is not given to one kernel only.

    Parameters
    ----------
    n : int
        float64 elements per array (three arrays are allocated).
    repeat : int
        Rounds; the best run of each kernel is kept, as STREAM does.
    threads : sequence of int
        numba thread counts to measure (capped at ``numba.config.NUMBA_NUM_THREADS``).

    Returns
    -------
    list of dict
        Keys ``kernel``, ``threads``, ``bytes``, ``seconds``, ``gbs`` (1e9 bytes per second).
    """
    a, b, c = np.empty(n), np.empty(n), np.empty(n)
    for x, v in ((a, 1.0), (b, 2.0), (c, 0.5)):
        stream_write(x, v)  # first touch on every thread; also compiles
    stream_read(a)
    stream_copy(a, c)
    stream_triad(a, b, c, 3.0)
    kernels = {
        "read (sum)": (lambda: stream_read(b), 8 * n),
        "write (fill)": (lambda: stream_write(a, 1.5), 8 * n),
        "copy": (lambda: stream_copy(b, c), 16 * n),
        "triad": (lambda: stream_triad(a, b, c, 3.0), 24 * n),
    }
    cases = [(name, t) for t in dict.fromkeys(min(int(t), numba.config.NUMBA_NUM_THREADS) for t in threads)
             for name in kernels] + [("copy, NumPy np.copyto", 1)]
    best = dict.fromkeys(cases, np.inf)
    saved = numba.get_num_threads()
    try:
        for _ in range(repeat):
            for name, t in cases:
                run = (lambda: np.copyto(c, b)) if name.endswith("np.copyto") else kernels[name][0]
                numba.set_num_threads(t)
                start = time.perf_counter()
                run()
                best[name, t] = min(best[name, t], time.perf_counter() - start)
    finally:
        numba.set_num_threads(saved)
    rows = []
    for name, t in cases:
        nbytes = 16 * n if name.endswith("np.copyto") else kernels[name][1]
        rows.append({"kernel": name, "threads": t, "bytes": nbytes, "seconds": best[name, t],
                     "gbs": nbytes / best[name, t] / 1e9})
    return rows


def step_bytes(image: np.ndarray, seg, prelude) -> list[dict]:
    """Bytes each pipeline step reads and writes at least, and as coded, from the actual arrays.

    Parameters
    ----------
    image : (H, W) ndarray
        The image the segmentation ran on (its dtype as passed in).
    seg : SymmetrySegmentation
        A finished in-memory segmentation of ``image`` with the PCA and k-means.
    prelude : tuple
        ``translation._prelude(image, shifts, patch_y, patch_x, grid, None)`` for the same
        image and grid: (normalized image, flat variance, integral images (2), patch means,
        patch inverse norms).

    Returns
    -------
    list of dict
        One per step (``descriptors``, ``reduction``, ``clustering``, ``labels``): ``min_read``,
        ``min_written``, ``code_read``, ``code_written`` (bytes) and ``notes``.
    """
    desc = np.asarray(seg.descriptors.data)
    lr = seg.descriptors.learning_results
    loadings = np.asarray(lr.loadings)
    k_labels = np.asarray(lr.cluster_algorithm.labels_)  # k-means labels of every sample
    distances = np.asarray(lr.cluster_distances)
    cluster_labels = np.asarray(lr.cluster_labels)
    grid_labels = np.asarray(seg.grid_labels)
    labels = np.asarray(seg.labels.data)
    img, _, ii1, ii2, mean, inv = prelude
    n_clusters = distances.shape[0]
    grid_int64 = grid_labels.size * np.dtype(np.int64).itemsize  # nearest_centre's labels before the cast
    mb = 1e6
    prelude_written = img.nbytes + ii1.nbytes + ii2.nbytes + mean.nbytes + inv.nbytes
    return [
        dict(step="descriptors", min_read=image.nbytes, min_written=desc.nbytes,
             code_read=image.nbytes + img.nbytes + mean.nbytes + inv.nbytes,
             code_written=desc.nbytes + prelude_written,
             notes=f"descriptors {'x'.join(map(str, desc.shape))} {desc.dtype} {desc.nbytes / mb:.1f} MB; as coded "
                   f"+ prelude: normalized image {img.dtype} {img.nbytes / mb:.1f} MB, integral-image rows "
                   f"{(ii1.nbytes + ii2.nbytes) / mb:.1f} MB, patch means and inverse norms "
                   f"{'x'.join(map(str, mean.shape))} {mean.dtype} {(mean.nbytes + inv.nbytes) / mb:.1f} MB written, "
                   f"and each read once (the image 4 times: peak, sum, squares, normalisation, from cache after "
                   f"the first)"),
        dict(step="reduction (PCA)", min_read=2 * desc.nbytes, min_written=loadings.nbytes,
             code_read=2 * desc.nbytes, code_written=loadings.nbytes,
             notes=f"covariance pass + projection pass over the descriptors; loadings "
                   f"{'x'.join(map(str, loadings.shape))} {loadings.dtype} {loadings.nbytes / mb:.1f} MB"),
        dict(step="clustering (k-means)", min_read=loadings.nbytes, min_written=grid_labels.nbytes,
             code_read=(2 + n_clusters) * loadings.nbytes + 2 * k_labels.nbytes,
             code_written=k_labels.nbytes + distances.nbytes + cluster_labels.nbytes,
             notes=f"minimum: one pass, {grid_labels.dtype} labels; as coded: nearest centre (loadings in, "
                   f"{k_labels.dtype} labels {k_labels.nbytes / mb:.1f} MB out), cluster sums (loadings, labels), "
                   f"distances to {n_clusters} centroids ({distances.dtype} {distances.nbytes / mb:.1f} MB), "
                   f"cluster_labels {cluster_labels.dtype} {cluster_labels.nbytes / mb:.1f} MB; the k-means itself "
                   f"on a {lr.cluster_algorithm.max_samples}-sample subsample stays in cache"),
        dict(step="labels", min_read=grid_labels.nbytes, min_written=labels.nbytes,
             code_read=k_labels.nbytes + loadings.nbytes + grid_int64 + grid_labels.nbytes,
             code_written=grid_int64 + grid_labels.nbytes + labels.nbytes,
             notes=f"grid labels {'x'.join(map(str, grid_labels.shape))} {grid_labels.dtype} -> label image "
                   f"{'x'.join(map(str, labels.shape))} {labels.dtype} {labels.nbytes / mb:.1f} MB; as coded the "
                   f"pattern sizes (the k-means labels), the model's nearest centre again (loadings in, int64 out, "
                   f"cast to {grid_labels.dtype})"),
    ]
