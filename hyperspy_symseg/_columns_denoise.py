"""Lattice-guided denoising of atomic-resolution signals (the public :func:`denoise`).

Re-exported by :mod:`hyperspy_symseg.atom_columns`; the kernels are in
:mod:`hyperspy_symseg.columns._denoise` (no HyperSpy there).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import _validation as check
from ._columns_common import (
    MIN_LATTICE_QUALITY, _find_lattice, _min_separation, _no_lattice_error, _real, _significant_lattices,
)
from .columns import _denoise, _locate

__all__ = ["denoise", "DENOISE_METHODS"]

DENOISE_METHODS = ("lattice_nlm",)


def denoise(
    signal: Any,
    method: str = "lattice_nlm",
    *,
    translations: Any = None,
    lattice_vectors: Any = None,
    n_translations: int = 96,
    max_shift: float | None = None,
    patch_radius: int = 2,
    h: float = 0.5,
    column_sigma: float | None = None,
    noise: str = "auto",
    min_lattice_quality: float = MIN_LATTICE_QUALITY,
):
    """Denoise an atomic-resolution image by averaging it over its lattice translations.

    Lattice non-local means: each pixel is averaged with the pixels at the lattice
    translations ``t`` (sub-pixel, cubic resampling), weighted by
    ``exp(-max(d - 2, 0) / h**2)`` where ``d`` is the mean squared difference of the
    two ``(2 patch_radius + 1)**2`` patches after the Anscombe transform (so the noise
    floor is 2 for Poisson counts), and by a column-shaped matched filter of the
    difference, which detects a brighter or missing column far better than the mean
    squared difference at low dose. Defects (vacancies, dopants, boundaries) have
    neighbourhoods unlike their translated copies and keep their contrast. The weights are
    computed on the stabilised image, but the original values are averaged: the result
    is an unbiased estimate in the input's units, with no inverse transform.

    Parameters
    ----------
    signal : hyperspy Signal2D (eager or lazy), any navigation shape
        Images to denoise; each frame uses the same translations (from the first frame).
    method : {"lattice_nlm"}
        The algorithm.
    translations : (T, 2) array_like of float, optional
        Shifts ``(dy, dx)`` in px at which the image repeats (give both signs). Default:
        the ``n_translations`` shortest translations of every lattice that
        :func:`hyperspy_symseg.lattice.find_lattice` finds in the first frame (each grain
        of a multi-grain image brings its own).
    lattice_vectors : (2, 2) array_like of float, optional
        Rows ``(dy, dx)`` in px; translations are then their integer combinations.
    n_translations : int
        Translations per lattice (both signs counted) when they are not given, >= 2.
    max_shift : float, optional
        Largest translation in px; default 70 px or a quarter of the image, whichever is
        smaller.
    patch_radius : int
        Half size of the compared patches, px (>= 1).
    h : float
        Similarity scale (> 0); smaller keeps more defects, larger averages more.
    column_sigma : float, optional
        Width (px) of the matched filter; default an eighth of the shortest column
        separation (about a column's Gaussian sigma); 0 turns the test off.
    noise : {"auto", "poisson", "gaussian"}
        "poisson" compares Anscombe-transformed patches; "gaussian" scales by a robust
        noise estimate; "auto" is Poisson for images of non-negative integers.
    min_lattice_quality : float
        Below this lattice quality (automatic translations only) ValueError: the image
        has no lattice to average over.

    Returns
    -------
    signal
        A new signal of the same class with the same axes and metadata (plus
        ``metadata.Processing.denoise``), float; lazy for lazy input.

    See Also
    --------
    find_atom_columns : atom columns, before or after denoising.

    Examples
    --------
    >>> from hyperspy_symseg import simulate
    >>> from hyperspy_symseg.atom_columns import denoise
    >>> sim = simulate.two_grain_image(shape=(192, 192), peak_counts=10, random_state=0)
    >>> clean = denoise(sim.image)
    >>> clean.data.shape
    (192, 192)
    """
    check.check_choice("method", method, DENOISE_METHODS)
    check.check_choice("noise", noise, ("auto", "poisson", "gaussian"))
    if not hasattr(signal, "axes_manager"):
        raise TypeError(f"signal must be a HyperSpy signal, got {type(signal).__name__}.")
    am = signal.axes_manager
    if am.signal_dimension != 2:
        raise ValueError(f"signal must have 2 signal dimensions (images), got {am.signal_dimension}.")
    check.check_image_dtype(signal.data.dtype)
    n_translations = check.check_int("n_translations", n_translations, 2)
    patch_radius = check.check_int("patch_radius", patch_radius, 1, 20)
    h = _real("h", h, 0.0)
    min_lattice_quality = _real("min_lattice_quality", min_lattice_quality, 0.0, 1.0, open_low=False)
    lazy = bool(getattr(signal, "_lazy", False))
    data = signal.data
    shape = data.shape[-2:]
    if min(shape) < 8:
        raise ValueError(f"signal images must be at least 8 x 8 pixels, got {shape}.")
    first = data[(0,) * (data.ndim - 2)]
    first = np.asarray(first.compute() if hasattr(first, "compute") else first)
    check.check_finite(first)
    if max_shift is None:
        max_shift = min(70.0, min(shape) / 4.0)
    max_shift = _real("max_shift", max_shift, 1.0, min(shape) / 2.0, open_low=False)
    if noise == "auto":
        noise = "poisson" if _locate.is_count_data(first) else "gaussian"
    if noise == "poisson" and first.min() < 0:
        raise ValueError("noise='poisson' needs non-negative counts, but the image has negative values; "
                         "use noise='gaussian'.")
    if translations is not None and lattice_vectors is not None:
        raise ValueError("give at most one of translations and lattice_vectors.")
    if translations is not None:
        t = np.asarray(translations, dtype=np.float64)
        if t.ndim != 2 or t.shape[1] != 2 or len(t) < 1 or not np.all(np.isfinite(t)):
            raise ValueError(f"translations must be a finite (T, 2) array of (dy, dx) shifts in px, got shape {t.shape}.")
        if np.abs(t).max() > min(shape) / 2.0:
            raise ValueError(f"translations must be shorter than half the image ({min(shape) / 2.0:g} px).")
    elif lattice_vectors is not None:
        v = np.asarray(lattice_vectors, dtype=np.float64)
        if v.shape != (2, 2) or not np.all(np.isfinite(v)):
            raise ValueError(f"lattice_vectors must be a finite (2, 2) array, rows (dy, dx) in px, got shape {v.shape}.")
        if abs(np.linalg.det(v)) < 1e-6 * (np.abs(v).max() ** 2 + 1e-300):
            raise ValueError("lattice_vectors must be linearly independent.")
        t = _denoise.translations_from_vectors(v, max_shift, n_translations)
        if len(t) == 0:
            raise ValueError(f"no lattice translation is shorter than max_shift={max_shift:g} px.")
    else:
        lat = _find_lattice(first)
        if not (lat.found and lat.quality >= min_lattice_quality):
            raise _no_lattice_error(lat.quality, min_lattice_quality, "lattice averaging")
        # every lattice found (grains, phases) brings its own translations
        t = np.concatenate([_denoise.translations_from_vectors(li.vectors, max_shift, n_translations)
                            for li in _significant_lattices(lat)])
        if len(t) == 0:
            raise ValueError(f"no lattice translation is shorter than max_shift={max_shift:g} px.")
    if column_sigma is None:
        if translations is None and lattice_vectors is None:
            column_sigma = 0.125 * _min_separation(lat)
        else:
            column_sigma = 0.125 * float(np.hypot(t[:, 0], t[:, 1]).min())
    column_sigma = _real("column_sigma", column_sigma, 0.0, 20.0, open_low=False)
    poisson = noise == "poisson"
    sigma_noise = None if poisson else float(_denoise_noise_sigma(first))
    out_dtype = np.float32 if np.dtype(data.dtype) in (np.float32, np.float16) else np.float64

    def one(frame: np.ndarray) -> np.ndarray:
        return _denoise.lattice_nlm(frame, t, patch_radius=patch_radius, h=h, poisson=poisson,
                                    noise_sigma=sigma_noise, column_sigma=column_sigma).astype(out_dtype)

    def frames(block: np.ndarray) -> np.ndarray:
        block = np.asarray(block)
        out = np.empty(block.shape, dtype=out_dtype)
        for idx in np.ndindex(block.shape[:-2]):
            out[idx] = one(block[idx])
        return out

    if lazy:
        import dask.array as da

        reach = max(patch_radius, int(math.ceil(3.0 * column_sigma)))
        depth = int(math.ceil(np.abs(t).max())) + reach + 3
        arr = data
        chunks = list(arr.chunks)
        for ax in (-2, -1):
            size = arr.shape[ax]
            c = max(max(chunks[ax]), min(size, 2 * depth + 1))
            chunks[ax] = c
        arr = arr.rechunk(tuple(c if isinstance(c, int) else c for c in chunks))
        depths = {arr.ndim - 2: depth, arr.ndim - 1: depth}
        depths.update({k: 0 for k in range(arr.ndim - 2)})
        new = da.map_overlap(frames, arr, depth=depths, boundary="none", dtype=out_dtype, trim=True)
    else:
        new = frames(np.asarray(data))
    result = signal._deepcopy_with_new_data(new)
    result.metadata.set_item("Processing.denoise", {
        "method": method, "noise": noise, "patch_radius": patch_radius, "h": h, "column_sigma": column_sigma,
        "n_translations": int(len(t)), "translations_px": np.asarray(t).tolist(),
    })
    return result


def _denoise_noise_sigma(image: np.ndarray) -> float:
    from .columns._detect import robust_noise_sigma

    return robust_noise_sigma(image)
