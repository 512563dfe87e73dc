"""Image preparation for the descriptors: an edge-preserving background and local statistics.

NumPy/SciPy in, NumPy out; no HyperSpy.

The Pearson score removes a patch's mean and norm, so a patch that straddles a strong
intensity step (a particle on vacuum, a thickness step) correlates at every shift: the
step, not the lattice, dominates it, and the band along the step becomes a "pattern"
of its own. A Gaussian high-pass leaves a ridge of a fraction of the step there. The
*morphological mid-range* ``(opening + closing) / 2`` with a square element about one
lattice period wide follows a step edge sharply (openings and closings keep the edges
of structures larger than the element) while it averages the columns away (they are
narrower than the element): bright columns (HAADF) are removed by the opening, dark
ones (ABF, HRTEM) by the closing, and the mid-range sits at the local centre level for
either contrast. Subtracting it (lightly smoothed) leaves the lattice and removes
steps, ramps and slowly varying backgrounds before any score is computed.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import threading

import numpy as np

from .translation import integral_images

#: Gaussian pre-smoothing (px) before the grey opening and closing, against shot-noise bias.
PRESMOOTH = 1.0


def background_support(size: int, sigma: float) -> int:
    """Pixels around a pixel that :func:`lattice_background` at that pixel depends on."""
    return int(size) - 1 + int(math.ceil(4.0 * sigma)) + int(math.ceil(4.0 * PRESMOOTH)) + 1


def lattice_background(image: np.ndarray, size: int, sigma: float) -> np.ndarray:
    """Edge-preserving background of a lattice image: the smoothed morphological mid-range.

    Parameters
    ----------
    image : (H, W) real ndarray
    size : int
        Width (px) of the square structuring element, about one lattice period (>= 3).
    sigma : float
        Gaussian smoothing (px) of the mid-range (a quarter period is enough to hide
        the element's square footprint).

    Returns
    -------
    (H, W) float64 ndarray
        ``G_sigma * ((open(I_s) + close(I_s)) / 2)`` with ``I_s`` the image smoothed by
        ``PRESMOOTH`` px; reflecting boundaries.
    """
    import scipy.ndimage as ndi  # here, not at import: ~0.1 s of a fresh process

    smooth = ndi.gaussian_filter(np.asarray(image, dtype=np.float64), PRESMOOTH, mode="reflect")
    footprint = (int(size), int(size))
    mid = 0.5 * (ndi.grey_opening(smooth, size=footprint, mode="reflect")
                 + ndi.grey_closing(smooth, size=footprint, mode="reflect"))
    return ndi.gaussian_filter(mid, sigma, mode="reflect")


#: Background-free images kept inside a :func:`shared_backgrounds` block (the oldest go first).
SHARED_BACKGROUNDS = 4
_SHARED = {"depth": 0, "entries": {}}
_SHARED_LOCK = threading.Lock()


@contextlib.contextmanager
def shared_backgrounds():
    """Inside the block :func:`background_free` computes each image's background once.

    A fit computes the background-free image of a frame up to three times: for the
    channels' scaling statistics, for the descriptors and for the boundary refinement;
    the background (morphological opening and closing) is most of the automatic stage's
    time on large images (a 4096 x 4096 image: 3.2 s a call). Entries are keyed by the
    image's bytes (a hash), not its identity, and are read-only; the last block to end
    empties the store.
    """
    with _SHARED_LOCK:
        _SHARED["depth"] += 1
    try:
        yield
    finally:
        with _SHARED_LOCK:
            _SHARED["depth"] -= 1
            if _SHARED["depth"] == 0:
                _SHARED["entries"].clear()


def background_free(image: np.ndarray, size: int, sigma: float) -> np.ndarray:
    """``image - lattice_background(image, size, sigma)`` (float64), computed once per image
    inside a :func:`shared_backgrounds` block (a read-only array then)."""
    image = np.asarray(image, dtype=np.float64)
    if not _SHARED["depth"]:
        return image - lattice_background(image, size, sigma)
    data = np.ascontiguousarray(image)
    key = (data.shape, int(size), float(sigma), hashlib.blake2b(memoryview(data).cast("B"), digest_size=16).digest())
    with _SHARED_LOCK:
        hit = _SHARED["entries"].get(key)
    if hit is not None:
        return hit
    out = image - lattice_background(image, size, sigma)
    out.flags.writeable = False
    with _SHARED_LOCK:
        if _SHARED["depth"]:
            entries = _SHARED["entries"]
            entries[key] = out
            while len(entries) > SHARED_BACKGROUNDS:
                entries.pop(next(iter(entries)))
    return out


def box_mean_std(image: np.ndarray, rows: np.ndarray, cols: np.ndarray, half: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of ``image`` over ``(2 half + 1)^2`` boxes centred on a grid.

    Boxes are clipped at the image edges. Returns two ``(len(rows), len(cols))``
    float64 arrays.
    """
    image = np.asarray(image, dtype=np.float64)
    peak = float(np.max(np.abs(image))) if image.size else 0.0
    if peak > 1e100 or 0 < peak < 1e-100:  # squares would over/underflow: exact power-of-two rescale
        exponent = math.frexp(peak)[1]
        mean, std = box_mean_std(np.ldexp(image, -exponent), rows, cols, half)
        return np.ldexp(mean, exponent), np.ldexp(std, exponent)
    height, width = image.shape
    offset = float(np.mean(image))
    ii1, ii2 = integral_images(image - offset)
    top = np.clip(rows - half, 0, height - 1)[:, None]
    bottom = np.clip(rows + half, 0, height - 1)[:, None]
    left = np.clip(cols - half, 0, width - 1)[None, :]
    right = np.clip(cols + half, 0, width - 1)[None, :]
    n = (bottom - top + 1) * (right - left + 1)

    def box(ii):
        return ii[bottom + 1, right + 1] - ii[top, right + 1] - ii[bottom + 1, left] + ii[top, left]

    s1, s2 = box(ii1), box(ii2)
    mean = s1 / n
    var = np.maximum(s2 / n - mean * mean, 0.0)
    return mean + offset, np.sqrt(var)
