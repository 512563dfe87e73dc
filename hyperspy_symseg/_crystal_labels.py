"""Crystal / not-crystal labels from a crystallinity map and the local contrast.

NumPy and SciPy only; no HyperSpy. :meth:`SymmetrySegmentation.crystal_labels
<hyperspy_symseg.result.SymmetrySegmentation.crystal_labels>` calls :func:`crystal_mask`.

Two steps, measured on the 24 human-labelled graphene images and the real images of
``benchmarks/bench_real.py``:

1. **Crystallinity.** The crystallinity map (``mean r(t) - mean r(t / 2)``), smoothed by
   a Gaussian of ``SMOOTH_FACTOR`` patch sizes, above ``CRYSTAL_FRACTION`` of the
   crystal's typical crystallinity. This separates crystal from vacuum and amorphous
   material, but a crystal seen *through* a thin amorphous layer (contamination on
   graphene, carbon over a particle) still shows its lattice and reads crystalline.
2. **Contamination.** Among the crystalline pixels, an amorphous overlayer adds
   aperiodic contrast: the local standard deviation rises while the crystallinity
   falls. If the log local standard deviation of those pixels splits into two clear
   modes (Otsu's between-class share of the variance at least ``MIN_SEPARABILITY``),
   the upper mode's standard deviation is at least ``MIN_STD_RATIO`` times the lower
   one's, and its median crystallinity at most ``MAX_CRYSTALLINITY_RATIO`` of the
   lower one's, the upper mode is not crystalline. The last condition keeps a thick
   particle centre (more contrast *and* more crystalline: ratios 1.8-2.2 on the real
   particles) and a second phase of equal crystallinity crystalline. The limit of the
   rule: a second phase with more contrast and a much weaker lattice (below 0.75 of the
   first's; 0.77 on the PbTiO3 / SrRuO3 interface) would be called contamination;
   ``contamination=False`` switches the step off.

On the graphene set the first step alone gives 0.921 mean accuracy, both 0.978 (the
local-std baseline of the benchmark: 0.970); on the particles, interfaces and the MoS2
hole of ``bench_real.py`` the second step changes nothing.
"""

from __future__ import annotations

import numpy as np

#: Share of the crystal's typical crystallinity above which a pixel is crystalline.
CRYSTAL_FRACTION = 0.3
#: Gaussian smoothing of the crystallinity map, in patch half sizes (1: 0.973 mean
#: accuracy on the graphene set, 1.5: 0.978, 2: 0.982 but 0.964 on the AtomSegNet
#: particle against 0.977).
SMOOTH_FACTOR = 1.5
#: Otsu's between-class share of the variance of the log local std (0..1) that counts as two modes.
MIN_SEPARABILITY = 0.6
#: Smallest ratio of the two modes' local standard deviations.
MIN_STD_RATIO = 1.3
#: Largest ratio of the upper mode's median crystallinity to the lower one's.
MAX_CRYSTALLINITY_RATIO = 0.75
#: Fewest crystalline pixels for the contamination step.
MIN_PIXELS = 100


def otsu_threshold(values: np.ndarray, bins: int = 256) -> tuple[float, float]:
    """Otsu's threshold of ``values`` and the between-class share of their variance.

    Parameters
    ----------
    values : (n,) array_like of float
    bins : int
        Histogram bins; the threshold is a bin centre, the classes are ``< t`` and ``>= t``.

    Returns
    -------
    threshold : float
    separability : float
        Between-class variance over total variance at that threshold, in [0, 1]
        (0 for constant values).
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    total = float(np.var(v))
    if v.size < 2 or total <= 0.0:
        return float(v.mean()) if v.size else 0.0, 0.0
    counts, edges = np.histogram(v, bins)
    centres = 0.5 * (edges[1:] + edges[:-1])
    w = counts / counts.sum()
    w0 = np.cumsum(w)[:-1]
    m0 = np.cumsum(w * centres)[:-1]
    mt = float(np.sum(w * centres))
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mt * w0 - m0) ** 2 / (w0 * (1.0 - w0))
    between = np.where(np.isfinite(between), between, -1.0)
    i = int(np.argmax(between))
    # Class "upper" starts at the next bin: threshold between bin i and i + 1.
    threshold = float(edges[i + 1])
    low, high = v[v < threshold], v[v >= threshold]
    if low.size == 0 or high.size == 0:
        return threshold, 0.0
    share = (low.size * (low.mean() - v.mean()) ** 2 + high.size * (high.mean() - v.mean()) ** 2) / (v.size * total)
    return threshold, float(share)


def local_std(image: np.ndarray, sigma: float) -> np.ndarray:
    """(H, W) float64 standard deviation of ``image`` in a Gaussian window of ``sigma`` px."""
    import scipy.ndimage as ndi

    a = np.asarray(image, dtype=np.float64)
    mean = ndi.gaussian_filter(a, sigma)
    return np.sqrt(np.maximum(ndi.gaussian_filter(a * a, sigma) - mean * mean, 0.0))


def crystal_mask(crystallinity: np.ndarray, threshold: float, patch: float, images: np.ndarray | None = None,
                 contamination: bool = True) -> tuple[np.ndarray, dict]:
    """Crystal (True) / not crystal (False) for every pixel of one or more frames.

    Parameters
    ----------
    crystallinity : (F, H, W) float array
        The crystallinity map (nearest grid point per pixel).
    threshold : float
        Smoothed crystallinity above which a pixel is crystalline.
    patch : float
        Patch half size (px): the smoothing is ``SMOOTH_FACTOR * patch``, the local
        standard deviation's window ``patch``.
    images : (F, H, W) float array or None
        The images the scores saw (background removed); needed for the contamination step.
    contamination : bool
        Apply the contamination step (see the module's text).

    Returns
    -------
    mask : (F, H, W) bool ndarray
    info : dict
        ``contamination`` (whether the step removed a mode), ``separability``,
        ``std_ratio``, ``crystallinity_ratio`` (nan when not measured) and
        ``std_threshold`` (the local standard deviation above which a crystalline
        pixel was called contaminated, nan if none).
    """
    import scipy.ndimage as ndi

    c = np.asarray(crystallinity, dtype=np.float64)
    smooth = np.stack([ndi.gaussian_filter(f, SMOOTH_FACTOR * float(patch)) for f in c])
    mask = smooth >= threshold
    info = {"contamination": False, "separability": np.nan, "std_ratio": np.nan, "crystallinity_ratio": np.nan,
            "std_threshold": np.nan}
    if not contamination or images is None or int(mask.sum()) < MIN_PIXELS:
        return mask, info
    std = np.stack([local_std(f, float(patch)) for f in np.asarray(images, dtype=np.float64)])
    log_std = np.log(np.maximum(std, 1e-300))
    values = log_std[mask]
    cut, separability = otsu_threshold(values)
    upper = values >= cut
    if upper.all() or not upper.any():
        info["separability"] = separability
        return mask, info
    lower_c, upper_c = np.median(smooth[mask][~upper]), np.median(smooth[mask][upper])
    std_ratio = float(np.exp(values[upper].mean() - values[~upper].mean()))
    c_ratio = float(upper_c / lower_c) if lower_c > 0 else np.inf
    info.update(separability=separability, std_ratio=std_ratio, crystallinity_ratio=c_ratio)
    if separability >= MIN_SEPARABILITY and std_ratio >= MIN_STD_RATIO and c_ratio <= MAX_CRYSTALLINITY_RATIO:
        mask &= log_std < cut
        info.update(contamination=True, std_threshold=float(np.exp(cut)))
    return mask, info
