"""Atom columns of atomic-resolution images: find, refine, tabulate, denoise.

:func:`find_atom_columns` detects every column (robust to thickness ramps, vacuum and
noise), refines it to sub-pixel precision (centre of mass, then a batched elliptical
2D Gaussian fit with the neighbours subtracted, Poisson maximum likelihood on counts)
and returns an :class:`AtomColumns` result: a table, calibrated HyperSpy markers, CSV
export and, with a segmentation, the columns and lattice vectors of every pattern.

:func:`denoise` returns a denoised copy of an image (same class, axes and metadata;
lazy for lazy input) by non-local averaging over the lattice translations, which
needs no training and keeps vacancies and dopant columns.

The numerics are in :mod:`hyperspy_symseg.columns` (no HyperSpy there).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from . import _validation as check
from .columns import _denoise, _locate, _table
from .columns._table import PatternLattice

__all__ = ["AtomColumns", "find_atom_columns", "denoise", "MIN_LATTICE_QUALITY"]

#: Below this lattice quality (0..1, :func:`hyperspy_symseg.lattice.find_lattice`) an image
#: is said to hold no lattice: :func:`find_atom_columns` and :func:`denoise` refuse it.
#: Measured on the forward model: Poisson or Gaussian noise, vacuum and amorphous
#: material 0.0; single crystals 0.49-0.66 at 8 counts, two grains 0.43 at 8 counts.
MIN_LATTICE_QUALITY = 0.1


# --------------------------------------------------------------------------- lattice


def _find_lattice(image: np.ndarray):
    """The project's lattice analysis (power-spectrum Bragg peaks, every grain)."""
    from .lattice import find_lattice

    return find_lattice(image)


#: Lattices with a smaller share of the Bragg power do not set the column separation
#: (a weak spurious lattice of 2 px would make every pixel a candidate).
MIN_LATTICE_SHARE = 0.1


def _significant_lattices(lattice) -> list:
    lats = list(getattr(lattice, "lattices", []))
    keep = [li for k, li in enumerate(lats) if k == 0 or getattr(li, "share", 1.0) >= MIN_LATTICE_SHARE]
    return keep


def _min_separation(lattice) -> float:
    """Shortest column separation (px) over the significant lattices."""
    lats = _significant_lattices(lattice)
    if not lats:
        return float(lattice.min_separation_px)
    return float(min(li.min_separation_px for li in lats))


def _no_lattice_error(quality: float, threshold: float, what: str) -> ValueError:
    return ValueError(
        f"the image holds no lattice (lattice quality {quality:.3f} < min_lattice_quality={threshold:g}): "
        f"{what} would only return noise. If the image does show a lattice, give min_separation= "
        "(and lattice_vectors= / translations= for denoise) explicitly or lower min_lattice_quality."
    )


# --------------------------------------------------------------------------- input


def _image_and_axes(signal: Any, name: str = "signal") -> tuple[np.ndarray, dict]:
    """(H, W) float64 data and the calibration of a single-image signal or array."""
    if isinstance(signal, np.ndarray):
        data = signal
        axes = {"scale": (1.0, 1.0), "offset": (0.0, 0.0), "units": ("px", "px"), "names": ("y", "x")}
    elif hasattr(signal, "axes_manager") and hasattr(signal, "data"):
        am = signal.axes_manager
        if am.signal_dimension != 2:
            raise ValueError(f"{name} must have 2 signal dimensions (an image), got {am.signal_dimension}.")
        if am.navigation_dimension != 0:
            raise ValueError(
                f"{name} holds {am.navigation_size} images (navigation shape {am.navigation_shape}); "
                "find_atom_columns works on one image: pick one with s.inav[i] (or loop over them)."
            )
        sx, sy = am.signal_axes
        data = signal.data
        if hasattr(data, "compute"):
            data = data.compute()
        axes = {
            "scale": (float(sy.scale), float(sx.scale)),
            "offset": (float(sy.offset), float(sx.offset)),
            "units": (str(sy.units), str(sx.units)),
            "names": (str(sy.name), str(sx.name)),
        }
    else:
        raise TypeError(f"{name} must be a HyperSpy Signal2D or a 2D NumPy array, got {type(signal).__name__}.")
    data = np.asarray(data)
    if data.ndim != 2:
        raise ValueError(f"{name} must be a 2D image, got an array of shape {data.shape}.")
    check.check_image_dtype(data.dtype, name)
    if min(data.shape) < 8:
        raise ValueError(f"{name} must be at least 8 x 8 pixels, got {data.shape}.")
    check.check_finite(data, name)
    return data, axes


def _real(name: str, value: Any, low: float | None = None, high: float | None = None, *,
          open_low: bool = True) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}.")
    value = float(value)
    bad = not math.isfinite(value)
    if low is not None:
        bad |= value <= low if open_low else value < low
    if high is not None:
        bad |= value > high
    if bad:
        lo = "" if low is None else (f"> {low:g}" if open_low else f">= {low:g}")
        hi = "" if high is None else f"<= {high:g}"
        rng = " and ".join(r for r in (lo, hi) if r)
        raise ValueError(f"{name} must be a finite number{' ' + rng if rng else ''}, got {value}.")
    return value


def _labels_image(segmentation: Any, shape: tuple[int, int]) -> np.ndarray | None:
    if segmentation is None:
        return None
    labels = getattr(segmentation, "labels", segmentation)  # SymmetrySegmentation -> its labels
    if hasattr(labels, "axes_manager"):
        if labels.axes_manager.navigation_dimension != 0:
            raise ValueError("segmentation must be one label image (no navigation axes); pick a frame first.")
        labels = labels.data
        if hasattr(labels, "compute"):
            labels = labels.compute()
    labels = np.asarray(labels)
    if labels.shape != shape:
        raise ValueError(f"segmentation must have the image's shape {shape}, got {labels.shape}.")
    return check.as_integer_array(labels, "segmentation must hold integer labels")


# --------------------------------------------------------------------------- result


class AtomColumns:
    """Atom columns found in one image (the result of :func:`find_atom_columns`).

    Attributes
    ----------
    table : numpy structured array, shape (N,)
        One row per column; fields in :data:`hyperspy_symseg.columns._table.TABLE_FIELDS`
        (``y_px``, ``x_px``, calibrated ``y``, ``x``, their errors, ``amplitude``,
        ``background``, ``sigma_major_px``, ``sigma_minor_px``, ``angle_deg``,
        ``integrated_intensity``, ``snr``, ``chi2``, ``label``, ...).
    lattice : object
        The lattice analysis used (``vectors`` (2, 2) px, ``min_separation_px``,
        ``quality``), or None when ``min_separation`` was given.
    patterns : dict of int -> PatternLattice
        With a segmentation: the columns and lattice vectors (mean and spread, px) of
        each pattern label.
    axes : dict
        ``scale``, ``offset``, ``units``, ``names`` of the (y, x) image axes.
    parameters : dict
        The parameters of the search (``min_separation``, ``sigma``, ``window``, ``noise``, ...).
    """

    def __init__(self, table: np.ndarray, axes: dict, lattice: Any, parameters: dict,
                 patterns: dict[int, PatternLattice] | None = None) -> None:
        self.table = table
        self.axes = axes
        self.lattice = lattice
        self.parameters = parameters
        self.patterns = patterns or {}

    def __len__(self) -> int:
        return len(self.table)

    def __repr__(self) -> str:
        extra = f", {len(self.patterns)} patterns" if self.patterns else ""
        return (f"<AtomColumns: {len(self)} columns, min_separation={self.parameters.get('min_separation', 0):.3g} px, "
                f"sigma={self.parameters.get('sigma', 0):.3g} px{extra}>")

    @property
    def positions_px(self) -> np.ndarray:
        """(N, 2) float64 ``(y, x)`` in pixels."""
        return np.column_stack([self.table["y_px"], self.table["x_px"]])

    @property
    def positions(self) -> np.ndarray:
        """(N, 2) float64 ``(y, x)`` in the axes' units."""
        return np.column_stack([self.table["y"], self.table["x"]])

    @property
    def labels(self) -> np.ndarray:
        """(N,) int32 segmentation label of each column (-1 without segmentation)."""
        return self.table["label"]

    def to_csv(self, path) -> None:
        """Write the table to ``path`` as CSV: a header row of the field names, one row per column.

        ``y`` and ``x`` are in the axes' units (``self.axes["units"]``), ``*_px`` in pixels.
        """
        _table.write_csv(self.table, path)

    def to_markers(self, color: Any = None, sizes: float = 6, **kwargs: Any):
        """The columns as one calibrated :class:`hyperspy.api.plot.markers.Points`.

        Parameters
        ----------
        color : matplotlib colour, sequence of colours or None
            None colours by segmentation label (tab10) when there is one, else red.
        sizes : float
            Marker size in points.
        **kwargs
            Passed to ``Points`` (e.g. ``facecolors="none"``, ``alpha``).

        Examples
        --------
        >>> from hyperspy_symseg import simulate
        >>> from hyperspy_symseg.atom_columns import find_atom_columns
        >>> sim = simulate.two_grain_image(shape=(192, 192), random_state=0)
        >>> cols = find_atom_columns(sim.image)
        >>> sim.image.plot()  # doctest: +SKIP
        >>> sim.image.add_marker(cols.to_markers())  # doctest: +SKIP
        """
        import hyperspy.api as hs

        offsets = np.column_stack([self.table["x"], self.table["y"]])
        if color is None:
            if (self.table["label"] >= 0).any():
                from matplotlib import colormaps

                cmap = colormaps["tab10"]
                color = [cmap(int(k) % 10) if k >= 0 else (0.5, 0.5, 0.5, 1.0) for k in self.table["label"]]
            else:
                color = "red"
        return hs.plot.markers.Points(offsets=offsets, sizes=sizes, color=color, **kwargs)

    def plot(self, signal: Any, **kwargs: Any) -> None:
        """Plot ``signal`` with the columns on top (keyword arguments go to :meth:`to_markers`)."""
        signal.plot()
        signal.add_marker(self.to_markers(**kwargs), permanent=False)

    def pattern_table(self) -> np.ndarray:
        """Per-pattern lattice vectors as a structured array (px and calibrated units).

        Fields: ``label``, ``n_columns``, ``a1_y``, ``a1_x``, ``a2_y``, ``a2_x`` (mean,
        calibrated), ``a1_y_std`` ... (spread, calibrated), ``a1_length``, ``a2_length``
        (calibrated) and ``angle_deg`` (between a1 and a2).
        """
        names = ["label", "n_columns", "a1_y", "a1_x", "a2_y", "a2_x", "a1_y_std", "a1_x_std", "a2_y_std",
                 "a2_x_std", "a1_length", "a2_length", "angle_deg"]
        dt = np.dtype([(n, "i4" if n in ("label", "n_columns") else "f8") for n in names])
        out = np.zeros(len(self.patterns), dtype=dt)
        sy, sx = self.axes["scale"]
        for r, (lab, p) in enumerate(sorted(self.patterns.items())):
            v = p.vectors * np.array([sy, sx])
            s = p.spread * np.array([abs(sy), abs(sx)])
            out[r]["label"], out[r]["n_columns"] = lab, p.n_columns
            out[r]["a1_y"], out[r]["a1_x"], out[r]["a2_y"], out[r]["a2_x"] = v.ravel()
            out[r]["a1_y_std"], out[r]["a1_x_std"], out[r]["a2_y_std"], out[r]["a2_x_std"] = s.ravel()
            out[r]["a1_length"], out[r]["a2_length"] = np.hypot(v[:, 0], v[:, 1])
            cosang = np.dot(v[0], v[1]) / (np.hypot(*v[0]) * np.hypot(*v[1]))
            out[r]["angle_deg"] = np.degrees(np.arccos(np.clip(cosang, -1, 1)))
        return out


# --------------------------------------------------------------------------- find


def find_atom_columns(
    signal: Any,
    *,
    min_separation: float | None = None,
    sigma: float | None = None,
    segmentation: Any = None,
    noise: str = "auto",
    elliptical: bool = True,
    min_snr: float = _locate.MIN_SNR,
    window: float | None = None,
    fit: bool = True,
    min_lattice_quality: float = MIN_LATTICE_QUALITY,
) -> AtomColumns:
    """Find the atom columns of an image and refine them with 2D Gaussian fits.

    Candidates are the local maxima of a matched-filtered image that rise above a
    rolling floor (thickness ramps, vacuum edges), then centre of mass, then a batched
    elliptical Gaussian fit per column (numba Levenberg-Marquardt; Poisson maximum
    likelihood on count data, least squares otherwise) in which the neighbours are
    subtracted and re-fitted in sweeps until the positions change by less than
    1e-4 px. A candidate is kept when its fitted amplitude is at least ``min_snr``
    standard errors, its width is within a factor 2 of the median width and its centre
    lies in the image, so vacuum and noise give no columns.

    Parameters
    ----------
    signal : hyperspy Signal2D (eager or lazy) or (H, W) ndarray
        One image (no navigation axes), real-valued and finite.
    min_separation : float, optional
        Shortest distance between two columns in **pixels**. Default: from the lattice
        analysis of the image (``find_lattice(image).min_separation_px``); an image
        whose lattice quality is below ``min_lattice_quality`` raises ValueError.
    sigma : float, optional
        Column width guess in px (Gaussian standard deviation); default: fitted on the
        brightest candidates.
    segmentation : SymmetrySegmentation, label Signal2D or (H, W) int array, optional
        Labels of the image's pixels; each column gets the label under its centre and
        :attr:`AtomColumns.patterns` holds the lattice vectors of every pattern.
    noise : {"auto", "poisson", "gaussian"}
        Fit objective. "auto": Poisson for images of non-negative integers (counts),
        least squares otherwise.
    elliptical : bool
        Fit elliptical Gaussians (7 parameters) or circular ones (5).
    min_snr : float
        Minimum significance (amplitude / its standard error), >= 0.
    window : float, optional
        Fit window radius in px; default 3 sigma.
    fit : bool
        False stops after the centre of mass (fast): every candidate above the
        detection threshold is returned without the significance test, and the fitted
        fields (widths, errors, amplitude, ...) are NaN.
    min_lattice_quality : float
        Lattice quality threshold in [0, 1] for the automatic ``min_separation``.

    Returns
    -------
    AtomColumns
        ``table`` (N,) structured array (px and calibrated positions, errors,
        amplitude, background, widths, angle, integrated intensity, SNR, chi2, label),
        ``to_markers()``, ``to_csv(path)``, ``patterns``, ``pattern_table()``.

    Raises
    ------
    ValueError
        Bad parameters, an image that is not one 2D image, NaN pixels, or an image
        without a lattice (when ``min_separation`` is not given).

    See Also
    --------
    denoise : lattice-guided denoising, useful before finding columns at low dose.
    hyperspy_symseg.columns.gaussian_column_crlb : the precision limit of a column.

    Examples
    --------
    >>> from hyperspy_symseg import simulate
    >>> from hyperspy_symseg.atom_columns import find_atom_columns
    >>> sim = simulate.two_grain_image(shape=(192, 192), random_state=0)
    >>> cols = find_atom_columns(sim.image)
    >>> len(cols) > 50
    True
    >>> cols.table["x"][:3]  # calibrated (nm)  # doctest: +SKIP
    >>> cols.to_csv("columns.csv")  # doctest: +SKIP
    """
    image, axes = _image_and_axes(signal)
    check.check_choice("noise", noise, ("auto", "poisson", "gaussian"))
    if noise == "poisson" and image.min() < 0:
        raise ValueError("noise='poisson' needs non-negative counts, but the image has negative values; "
                         "use noise='gaussian'.")
    min_snr = _real("min_snr", min_snr, 0.0, open_low=False)
    min_lattice_quality = _real("min_lattice_quality", min_lattice_quality, 0.0, 1.0, open_low=False)
    if not isinstance(elliptical, (bool, np.bool_)):
        raise TypeError(f"elliptical must be True or False, got {elliptical!r}.")
    if not isinstance(fit, (bool, np.bool_)):
        raise TypeError(f"fit must be True or False, got {fit!r}.")
    half = min(image.shape) / 2.0
    lattice = None
    if min_separation is None:
        lattice = _find_lattice(image)
        if not (lattice.found and lattice.quality >= min_lattice_quality):
            raise _no_lattice_error(lattice.quality, min_lattice_quality, "a column search")
        min_separation = _min_separation(lattice)
    min_separation = _real("min_separation", min_separation, 1.0, half, open_low=False)
    if sigma is not None:
        sigma = _real("sigma", sigma, 0.0, min_separation)
    if window is not None:
        window = _real("window", window, 1.0, half, open_low=False)
    labels = _labels_image(segmentation, image.shape)
    res = _locate.locate_columns(
        image, min_separation, sigma=sigma, noise=noise, elliptical=bool(elliptical), window=window,
        min_snr=min_snr, fit=bool(fit),
    )
    table = _table.build_table(res, axes["scale"], axes["offset"], labels)
    patterns = None
    if labels is not None:
        patterns = _table.pattern_lattices(np.column_stack([table["y_px"], table["x_px"]]), table["label"])
    params = {
        "min_separation": min_separation, "sigma": res["sigma"], "window": res["window"], "noise": res["noise"],
        "elliptical": bool(elliptical), "min_snr": min_snr, "n_candidates": int(res["n_candidates"]),
        "n_sweeps": int(res["n_sweeps"]), "fit": bool(fit),
    }
    return AtomColumns(table, axes, lattice, params, patterns)


# --------------------------------------------------------------------------- denoise

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
