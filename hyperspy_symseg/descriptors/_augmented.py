"""Descriptors that see the lattice, not the intensity steps: background removal and extra channels.

:class:`AugmentedDescriptor` wraps any descriptor family. Before the family's scores
it subtracts the edge-preserving lattice background of
:mod:`hyperspy_symseg.descriptors._preprocess`, and after them it appends channels that
give the clustering what a Pearson score throws away:

* ``crystallinity``: how much better the patch correlates at lattice translations
  ``t`` than at their halves, ``mean r(t) - mean r(t / 2)``: about 0.5-1 in a crystal,
  about 0 in vacuum or amorphous material and for a smooth ramp (a shifted ramp
  correlates equally at every shift), below 0 across a step. The maximum over the
  lattices found is taken, so every grain and phase counts as crystalline.
* ``local mean`` and ``local std`` of the image over a box of half the patch's size
  (:data:`STATS_BOX_FACTOR`), scaled to [0, 1] by
  their 1st-99th percentiles on the fitted frames and *gated* by
  ``1 - g(crystallinity)``: they act only where the patch is not crystalline (the gate's
  crystallinity is scaled by the patch's contrast, :data:`GATE_CONTRAST`), so vacuum,
  amorphous carbon and contamination separate by intensity while a thickness ramp
  across a crystal cannot split it. On by default (``intensity_features=True``).

Where the lattice is known the family's scores are also scaled down in nearly flat
patches (*soft flatness*, :data:`FLAT_FRACTION`), so noise-free vacuum next to a
particle does not become a pattern of its own.

Weights (``CRYSTALLINITY_WEIGHT``, ``INTENSITY_WEIGHT``) are in units of one Pearson
channel and were chosen on the accuracy suite (``benchmarks/bench_accuracy.py``; the
user guide's page on automatic parameters lists the measurements). The statistics the
scaling needs (crystallinity of the crystal, intensity percentiles) are measured once
on the frames a model is fitted on and stored in the descriptor, so every later image,
tile and chunk is scored with the same numbers: the route to the labels does not change
them.

NumPy in, NumPy out; no HyperSpy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from ._grid import DescriptorGrid
from ._preprocess import background_free, background_support, box_mean_std
from .translation import image_std, local_correlation_map

#: Weight of the crystallinity channel, in units of a Pearson channel.
CRYSTALLINITY_WEIGHT = 1.5
#: Weight of each of the two (gated) intensity channels, in units of a Pearson channel.
#: Measured with ``intensity_features=True`` on ``bench_accuracy.py --quick --auto``:
#: weight 8 gave mean 0.968 and the right k on 84 % of the scenes, weight 2 gives 0.982
#: and 93 % (off: 0.983, 93 %); the real Au-particle EMD keeps 0.945 particle vs vacuum.
INTENSITY_WEIGHT = 2.0
#: Crystallinity at which a patch counts as fully crystalline, as a fraction of the
#: crystal's typical crystallinity (``stats["crystallinity"]``).
GATE_FRACTION = 0.5
#: Percentile of the crystallinity over the fitted grid taken as the crystal's.
CRYSTAL_PERCENTILE = 90.0
#: Soft flatness: the family's scores at a grid point are scaled by ``v / (v + v0)``,
#: ``v`` the variance of the background-free image over the patch and ``sqrt(v0)`` this
#: fraction of a crystal's (the median over the crystalline grid points of the fitted
#: frames). Two jobs. (1) A patch of noise-free vacuum next to a particle holds only
#: the tails of the edge columns: its Pearson scores are about 1 at every shift, which
#: made it a "halo" pattern of its own; scaled, it scores like the rest of the vacuum
#: (noise-free particles on vacuum at 4 and 40 px per period 0.60-0.65 -> 0.92-0.99
#: with 0.1). (2) A patch straddling the edge between a crystal and a region of less
#: contrast (vacuum, a dimmer phase, contamination) gets the crystal's scale-free
#: Pearson scores from the part of it the crystal fills, so the crystal came out
#: dilated by up to half a patch; with ``v0`` a quarter of a crystal's variance such a
#: patch's scores fall with the crystal's share of it, while a crystal of typical
#: contrast keeps 0.8 of its scores. Measured, mean / min over the multi-region scenes
#: and doses at 4 / 8 / 15 / 25 / 40 px per period (``bench_accuracy.py --auto``):
#: 0.1: 0.993 / 0.992 / 0.984 / 0.967 / 0.952, min 0.967 / 0.957 / 0.916 / 0.826 /
#: 0.701; 0.5: 0.994 / 0.992 / 0.985 / 0.970 / 0.955, min 0.972 / 0.962 / 0.925 /
#: 0.828 / 0.742. On a subset (8 / 25 / 40 px, particles, phases, contamination) 0.3
#: gave means 0.989 / 0.958 / 0.940, 0.5 0.989 / 0.959 / 0.943, 0.7 0.989 / 0.957 / 0.938,
#: 1.0 0.988 / 0.950 / 0.932 (phase + grain + vacuum at 40 px 0.905 / 0.917 / 0.929 /
#: 0.870 / 0.838 from 0.1 to 1.0). On the real images (``bench_real.py``) 0.5 takes
#: PTO-SRO from 0.966 to 0.987 and gives the rhambach graphene its reference's 3 "auto"
#: patterns (2 before), the rest within 0.002, the single-crystal controls still 1.
#: The cost: the scores now follow a crystal's contrast a little, and "auto" splits the
#: suite's two grains under a strong background and scan distortions in 3 at 11 of 20
#: cases (3 of 20 with 0.1; right k over the suite 91.5 % -> 90.9 %); that split was the
#: simulator's: its background went below zero and clipped ~40 % of the image to zero
#: (columns cut to their tips there). With a positive background
#: (``simulate.distorted_imaging``) the scene is 2 patterns at 20 of 20 cases. Normalising the
#: weight to 1 at a crystal's typical contrast, or to the most contrasted patch within
#: two patch half-sizes, or scaling only patches below half a crystal's contrast
#: (on top of 0.1) kept that scene split (1, 2 and 9 of its 12 cases at 15-40 px right,
#: against 12 with 0.1 and 1 with 0.5) and lost accuracy elsewhere.
#: 0.03 did as well as 0.1 on the suite but left the edge band around the zero-valued
#: vacuum of the real StatSTEM PtIr image a third "auto" pattern.
FLAT_FRACTION = 0.5
#: Contrast gate: the intensity channels' gate sees the crystallinity scaled by
#: ``min(1, (1 + G**2) v / (v + v_c))``, ``v`` the patch's variance (background-free
#: image), ``sqrt(v_c)`` = ``G`` (this constant) times a crystal's typical standard
#: deviation (the one :data:`FLAT_FRACTION` is a fraction of). A patch with a crystal's
#: typical contrast or more is gated as before; one with much less opens the gate and
#: its local mean decides. A patch at a particle's edge holds the tails of a few edge
#: columns, which makes it as crystalline as the particle by the scale-free Pearson
#: scores: unscaled, the gate stayed shut 0.5-1 patch into the vacuum and the particle
#: came out dilated. The crystallinity channel itself
#: (and :meth:`SymmetrySegmentation.crystallinity_map`) is not scaled: graphene next to
#: thicker amorphous contamination has less contrast than the contamination.
#: Measured with intensity features on (``bench_accuracy.py --quick --auto``): without
#: the scaling mean 0.992 / 0.980 / 0.951 at 4 / 15 / 40 px and the right k on 93 %;
#: 0.5: 0.993 / 0.983 / 0.957; 1.0: 0.993 / 0.982 / 0.958 and 95 %; 2.0: 0.994 / 0.982 /
#: 0.960 and 96 %, but on the real images (``bench_real.py``) 1.5 and 2.0 made the Au
#: particle EMD a single "auto" pattern (0.54) and the MoS2 hole worse (0.81 -> 0.65);
#: 1.0 keeps every real particle image at >= 0.997 (Au particles 0.945 -> 1.000).
#: Unnormalised (``v / (v + v_c)``, which half-opens the gate in a typical crystal) the
#: strong background of the suite's distorted two-grain scene leaked into the local mean
#: and "auto" split it in 3 at 5 of 20 cases; normalised: right k 95 % -> 96 % on the
#: quick suite, accuracy within 0.002, bench_real unchanged within 0.002.
GATE_CONTRAST = 1.0
#: Half size of the box of the local mean and local std channels, as a fraction of the
#: patch's (at least :data:`MIN_STATS_HALF` px). They act only where the gate is open,
#: outside crystals, so they need no whole lattice cell; a smaller box straddles an edge
#: over less distance, and a patch half over a particle and half over vacuum no longer
#: reads as the particle's brightness. Measured (fixed ``n_patterns``, 30 counts, 15 / 40
#: px per period, ``bench_accuracy.py`` scenes of kinds amorphous, vacuum, phases, hrtem,
#: contaminant): the whole patch (1.0) gave mean 0.9535 over those 24 cases, 0.5 gives
#: 0.9681; particle on vacuum at 40 px 0.939 -> 0.958, the thick particles +0.004-0.014,
#: HRTEM crystal + amorphous at 40 px 0.972 -> 0.980, graphene with contamination at
#: 15 px 0.940 -> 0.934, the rest within 0.003. Whole suite (``bench_accuracy.py --auto``,
#: with :data:`MIN_STATS_HALF`): means at 15 / 25 / 40 px 0.978 / 0.963 / 0.953 -> 0.979 /
#: 0.964 / 0.958 (4 and 8 px unchanged: the box is the patch there); the particles on
#: vacuum and carbon +0.003-0.020, graphene with contamination -0.005 to -0.009 at
#: 15-40 px, the precipitate -0.002 / -0.003 at 25 / 40 px; "auto" right k unchanged
#: (92.8 %). ``bench_real.py``: PtIr 1.000 -> 0.999, everything else unchanged. The same
#: kinds at 15 / 25 / 40 px and 30 counts: 0.35 / 0.5 / 0.7 of the patch gave means 0.9638 /
#: 0.9647 / 0.9642 (smaller boxes help the particles, larger ones the interfaces and
#: contamination).
STATS_BOX_FACTOR = 0.5
#: Smallest half size of that box (px): the smallest automatic patch
#: (:data:`hyperspy_symseg.auto.MIN_PATCH`), for the same reason (a mean over fewer
#: pixels is too noisy at low dose: with 2 px the holey-carbon particle at 4 px per period
#: fell from 0.95 to 0.87, its carbon texture read as holes). So at 4-8 px per period the
#: box is the patch, as before; the box is never larger than the patch (an explicit
#: ``patch_x`` below this keeps its own box, as before).
MIN_STATS_HALF = 6
#: Extra channels in their order.
EXTRA_CHANNELS = ("crystallinity", "local mean", "local std")


def _soft_weight(std: np.ndarray, scale: float) -> np.ndarray:
    """``v / (v + scale**2)`` for the variances ``v = std**2``, without squaring huge values."""
    with np.errstate(divide="ignore", over="ignore"):
        ratio = scale / std
        return 1.0 / (1.0 + ratio * ratio)


def lattice_translations(vectors: np.ndarray, count: int = 4, reach: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Integer lattice translations close to true lattice vectors, and their halves.

    Among ``h a1 + k a2`` (``|h|, |k| <= 3``, not both even, so that ``t / 2`` is not a
    lattice translation too; one of each +-pair) no longer
    than ``reach`` (default ``2.5 max |a|``), the ``count`` with the smallest rounding
    error ``|round(t) - t|`` (ties: the shortest). A 1D periodicity uses multiples of
    ``a1``.

    Returns
    -------
    shifts, halves : (count, 2) int64 ndarrays
        ``round(t)`` and ``round(t / 2)``, rows ``(dy, dx)``.
    """
    a = np.asarray(vectors, dtype=np.float64)
    rows = [v for v in a if np.all(np.isfinite(v))]
    if reach is None:
        reach = 2.5 * max(float(np.linalg.norm(v)) for v in rows)
    candidates = []
    for h in range(-3, 4):
        for k in range(-3, 4) if len(rows) == 2 else [0]:
            if (h, k) <= (0, 0) and (h, k) != (0, 0) and (-h, -k) > (0, 0):
                continue
            if h % 2 == 0 and k % 2 == 0:
                continue  # t / 2 would be a lattice translation itself
            t = h * rows[0] + (k * rows[1] if len(rows) == 2 else 0.0)
            length = float(np.linalg.norm(t))
            if length > reach or length < 2.0:
                continue
            error = float(np.linalg.norm(np.rint(t) - t))
            candidates.append((round(error, 6), length, tuple(np.rint(t).astype(int)), tuple(np.rint(t / 2).astype(int))))
    candidates.sort()
    chosen, seen = [], set()
    for _, _, t, half in candidates:
        if t in seen or tuple(-np.array(t)) in seen or not any(half):
            continue
        seen.add(t)
        chosen.append((t, half))
        if len(chosen) == count:
            break
    shifts = np.array([c[0] for c in chosen], dtype=np.int64).reshape(-1, 2)
    halves = np.array([c[1] for c in chosen], dtype=np.int64).reshape(-1, 2)
    return shifts, halves


@dataclass(frozen=True, eq=False)
class AugmentedDescriptor:
    """A descriptor family's scores on the background-free image, plus extra channels.

    Parameters
    ----------
    base : descriptor object
        Any family of :mod:`hyperspy_symseg.descriptors`; its operations come first.
    background : int or None
        Width (px) of the structuring element of the lattice background (about one
        period); None scores the image as it is.
    background_sigma : float
        Smoothing (px) of the background.
    lattice_shifts, half_shifts : (n_lattices, M, 2) int64 ndarrays or None
        Translations of each lattice and their halves for the crystallinity channel;
        None: no extra channels.
    patch : int
        Half size (px) of the box over which crystallinity and local statistics are taken.
    extras : tuple of str
        The extra channels kept (a subset of :data:`EXTRA_CHANNELS`, in that order).
    stats : dict
        Measured on the fitted frames by :meth:`fitted`: ``crystallinity`` (the
        crystal's), ``mean_range`` and ``std_range`` (1st and 99th percentiles) and
        ``unit`` (the base scores' scale relative to a Pearson channel).
    """

    base: object
    background: int | None = None
    background_sigma: float = 1.0
    lattice_shifts: np.ndarray | None = None
    half_shifts: np.ndarray | None = None
    patch: int = 8
    extras: tuple = EXTRA_CHANNELS
    stats: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        extras = ", ".join(self.extras[: self.n_extra]) or "none"
        return (f"<AugmentedDescriptor of {self.base.name} ({self.base.n_operations} operations): "
                f"background {self.background or 'none'}, extra channels: {extras}>")

    # ---------------------------------------------------------------- protocol
    @property
    def name(self) -> str:
        return self.base.name

    @property
    def quantity(self) -> str:
        return self.base.quantity

    @property
    def nonnegative(self) -> bool:
        return bool(self.base.nonnegative)

    @property
    def n_extra(self) -> int:
        return len(self.extras) if self.lattice_shifts is not None else 0

    @property
    def crystallinity_scale(self) -> float:
        """Factor from the raw crystallinity to its channel: :data:`CRYSTALLINITY_WEIGHT` times the base's unit."""
        return CRYSTALLINITY_WEIGHT * float(self.stats.get("unit", 1.0))

    @property
    def has_lattice(self) -> bool:
        """Whether lattice translations are known (for crystallinity maps, with or without channels)."""
        return self.lattice_shifts is not None

    @property
    def n_operations(self) -> int:
        return int(self.base.n_operations) + self.n_extra

    @property
    def parameters(self) -> dict:
        return {**self.base.parameters, "background": self.background, "intensity_features": self.n_extra > 0}

    @property
    def min_shape(self):
        return self.base.min_shape

    @property
    def size_hint(self) -> str:
        return self.base.size_hint

    @property
    def reach(self) -> int:
        """Pixels around a grid point the extra channels depend on (before the background)."""
        if not self.n_extra:
            return 0
        return int(self.patch + np.abs(self.lattice_shifts).max())

    @property
    def halo(self) -> int:
        extra = background_support(self.background, self.background_sigma) if self.background else 0
        return int(max(self.base.halo, self.reach) + extra)

    def grid(self, shape, stride: int) -> DescriptorGrid:
        return self.base.grid(shape, stride)

    def __getattr__(self, item):
        # Family-specific attributes (shifts, patch_x, radius, ...) are the base's.
        if item.startswith("__") or item == "base":
            raise AttributeError(item)
        return getattr(self.base, item)

    # ------------------------------------------------------------------ scores
    def prepared(self, image: np.ndarray) -> np.ndarray:
        """The image with its lattice background removed (float64), what the scores see."""
        image = np.asarray(image, dtype=np.float64)
        if not self.background:
            return image
        return background_free(image, self.background, self.background_sigma)

    def raw_channels(self, image: np.ndarray, prepared: np.ndarray, grid: DescriptorGrid,
                     reference_std: float | None = None) -> np.ndarray:
        """(ny, nx, 3) crystallinity, local mean and local std at the grid points (unscaled).

        ``reference_std``: the whole (raw) image's standard deviation for the flat-patch
        test of the crystallinity scores (see :meth:`compute`).
        """
        pad = int(self.patch + np.abs(self.lattice_shifts).max())
        padded = np.pad(prepared, pad, mode="reflect") if pad else prepared
        sub = DescriptorGrid(grid.y0 + pad, grid.x0 + pad, grid.ny, grid.nx, grid.stride)
        n_lat, m = self.lattice_shifts.shape[:2]
        shifts = np.concatenate([self.lattice_shifts.reshape(-1, 2), self.half_shifts.reshape(-1, 2)])
        # Each translation t, or -t where the patch shifted by t leaves the image and the
        # one shifted by -t does not: the mirrored lattice of the padding is no translate
        # of the crystal, and near the edges it made a crystal look amorphous.
        both, _ = local_correlation_map(padded, np.concatenate([shifts, -shifts]), self.patch, self.patch,
                                        grid.stride, grid=sub, reference_std=reference_std)
        n = len(shifts)
        flip = ~self._inside(shifts, grid, prepared.shape) & self._inside(-shifts, grid, prepared.shape)
        scores = np.where(flip, both[..., n:], both[..., :n])
        scores = scores.astype(np.float64).reshape(grid.ny, grid.nx, 2, n_lat, m)
        crystallinity = (scores[:, :, 0].mean(axis=-1) - scores[:, :, 1].mean(axis=-1)).max(axis=-1)
        mean, std = box_mean_std(image, grid.rows(), grid.cols(), self.stats_half)
        return np.stack([crystallinity, mean, std], axis=-1)

    @property
    def stats_half(self) -> int:
        """Half size (px) of the box of the local mean and local std (:data:`STATS_BOX_FACTOR`):
        never larger than the patch, so a patch below :data:`MIN_STATS_HALF` keeps its own box."""
        return min(self.patch, max(MIN_STATS_HALF, int(round(STATS_BOX_FACTOR * self.patch))))

    def _inside(self, shifts: np.ndarray, grid: DescriptorGrid, shape) -> np.ndarray:
        """(ny, nx, n) whether the patch at each grid point shifted by each shift lies in the image."""
        rows = grid.rows()[:, None, None] + shifts[None, None, :, 0]
        cols = grid.cols()[None, :, None] + shifts[None, None, :, 1]
        p = self.patch
        return (rows - p >= 0) & (rows + p < shape[0]) & (cols - p >= 0) & (cols + p < shape[1])

    def scale_channels(self, raw: np.ndarray, contrast: np.ndarray | None = None) -> np.ndarray:
        """The extra channels as the clustering sees them, from :meth:`raw_channels`.

        ``contrast``: the (ny, nx) factor in [0, 1] of :data:`GATE_CONTRAST` the gate's
        crystallinity is scaled by (None: not scaled).
        """
        s = self.stats
        unit = float(s.get("unit", 1.0))
        crystallinity = raw[..., 0]
        reference = max(float(s.get("crystallinity", 1.0)), 1e-6)
        gated = crystallinity if contrast is None else crystallinity * contrast
        gate = np.clip(gated / (GATE_FRACTION * reference), 0.0, 1.0)
        out = []
        if "crystallinity" in self.extras:
            c = np.maximum(crystallinity, 0.0) if self.nonnegative else crystallinity
            out.append(self.crystallinity_scale * c)
        for k, name, key, crystal_key in ((1, "local mean", "mean_range", "mean_crystal"),
                                          (2, "local std", "std_range", "std_crystal")):
            if name in self.extras:
                lo, hi = s.get(key, (0.0, 1.0))
                scaled = (raw[..., k] - lo) / max(hi - lo, 1e-300)
                if self.nonnegative:
                    scaled = np.clip(scaled, 0.0, None)
                # In a crystal the channel takes the crystals' typical value, not 0: a
                # thickness ramp cannot split a crystal, and a crystal does not look
                # like vacuum (whose scaled intensity is also about 0).
                typical = float(s.get(crystal_key, math.nan))
                typical = (typical - lo) / max(hi - lo, 1e-300) if math.isfinite(typical) else 0.0
                out.append(INTENSITY_WEIGHT * unit * ((1.0 - gate) * scaled + gate * typical))
        return np.stack(out, axis=-1)

    def compute(self, image, stride, out=None, fft_workers=None, progress=None, grid=None, origin=(0, 0),
                reference_std=None, prepared=None):
        """(ny, nx, n_operations) float32: the base's scores on the prepared image, then the extras.

        Flat patches are judged against the standard deviation of the whole (raw) image:
        ``reference_std`` for a tile of a larger image, else this image's own, so tiles
        and the whole image agree. ``prepared``: :meth:`prepared` of ``image`` when the
        caller has it already (another descriptor with the same background).
        """
        image = np.asarray(image, dtype=np.float64)
        if grid is None:
            grid = self.grid(image.shape, stride)
        if reference_std is None:
            reference_std = image_std(image)
        if prepared is None:
            prepared = self.prepared(image)
        n_base = int(self.base.n_operations)
        if out is None:
            out = np.empty(grid.shape + (self.n_operations,), dtype=np.float32)
        base = self.base.compute(prepared, stride, fft_workers=fft_workers, progress=progress, grid=grid, origin=origin,
                                 reference_std=reference_std)
        out[..., :n_base] = base
        std = self._patch_std(prepared, grid)
        weight = self._flatness(std)
        if weight is not None:
            # The zero shift (1 everywhere) becomes the weight itself: measured, that
            # channel is what keeps noise-free vacuum and its edge band one pattern
            # (clean particles on vacuum "auto" k = 2, not 3, bench_accuracy.py).
            out[..., :n_base] *= weight[..., None]
        if self.n_extra:
            raw = self.raw_channels(image, prepared, grid, reference_std)
            out[..., n_base:] = self.scale_channels(raw, self._gate_contrast(std))
        return out

    def _patch_std(self, prepared: np.ndarray, grid: DescriptorGrid) -> np.ndarray | None:
        """(ny, nx) standard deviation of the background-free image over each patch, or
        None when the descriptor was not fitted with soft flatness (no lattice)."""
        if not self.has_lattice or not float(self.stats.get("flat_std", 0.0)) > 0.0:
            return None
        return box_mean_std(prepared, grid.rows(), grid.cols(), self.patch)[1]

    def flatness_weight(self, prepared: np.ndarray, grid: DescriptorGrid) -> np.ndarray | None:
        """(ny, nx) float32 ``v / (v + v0)`` of :data:`FLAT_FRACTION`, or None (not fitted with it)."""
        return self._flatness(self._patch_std(prepared, grid))

    def _flatness(self, std: np.ndarray | None) -> np.ndarray | None:
        """Soft flatness (:data:`FLAT_FRACTION`) from the patch std, float32; None for None."""
        return None if std is None else _soft_weight(std, float(self.stats["flat_std"])).astype(np.float32)

    def _gate_contrast(self, std: np.ndarray | None) -> np.ndarray | None:
        """The gate's factor of :data:`GATE_CONTRAST` from the patch std; None for None."""
        if std is None:
            return None
        crystal_std = float(self.stats["flat_std"]) / FLAT_FRACTION
        return np.minimum(1.0, (1.0 + GATE_CONTRAST**2) * _soft_weight(std, GATE_CONTRAST * crystal_std))

    # ------------------------------------------------------------- fitting, subsets
    def fitted(self, frames, prepared_frames=None) -> "AugmentedDescriptor":
        """A copy whose scaling statistics are measured on ``frames`` ((F, H, W) or a list of images).

        ``prepared_frames``: the frames' :meth:`prepared` images in the same order, if the caller has them.
        """
        if not self.has_lattice:
            return self
        raws, base_std, prepared_std = [], [], []
        for f, frame in enumerate(frames):
            image = np.asarray(frame, dtype=np.float64)
            grid = self.grid(image.shape, max(1, self._stats_stride(image.shape)))
            prepared = self.prepared(image) if prepared_frames is None else prepared_frames[f]
            raws.append(self.raw_channels(image, prepared, grid).reshape(-1, 3))
            prepared_std.append(box_mean_std(prepared, grid.rows(), grid.cols(), self.patch)[1].ravel())
            if self.n_extra and self.base.quantity != "Pearson correlation":
                base = self.base.compute(prepared, grid.stride, grid=grid).reshape(-1, self.base.n_operations)
                base_std.append(float(np.mean(base.std(axis=0))))
        raw = np.concatenate(raws)
        reference = float(np.percentile(raw[:, 0], CRYSTAL_PERCENTILE))
        crystal = raw[:, 0] >= GATE_FRACTION * max(reference, 1e-6)
        prepared_std = np.concatenate(prepared_std)
        stats = {
            "crystallinity": float(np.percentile(raw[:, 0], CRYSTAL_PERCENTILE)),
            "mean_range": tuple(float(v) for v in np.percentile(raw[:, 1], [1.0, 99.0])),
            "std_range": tuple(float(v) for v in np.percentile(raw[:, 2], [1.0, 99.0])),
            "mean_crystal": float(np.median(raw[crystal, 1])) if crystal.any() else math.nan,
            "std_crystal": float(np.median(raw[crystal, 2])) if crystal.any() else math.nan,
            # A Pearson channel varies by ~0.3 between patterns: other families are scaled to it.
            "unit": float(np.mean(base_std) / 0.3) if base_std else 1.0,
            "flat_std": FLAT_FRACTION * float(np.median(prepared_std[crystal] if crystal.any() else prepared_std)),
        }
        return replace(self, stats=stats)

    def _stats_stride(self, shape) -> int:
        # About 20 000 grid points are plenty for percentiles.
        return int(math.ceil(math.sqrt(shape[0] * shape[1] / 20000.0)))

    def subset(self, indices) -> "AugmentedDescriptor":
        """The same descriptor restricted to some operations (base operations and extra channels)."""
        indices = np.asarray(indices, dtype=np.int64)
        n_base = int(self.base.n_operations)
        base_idx = indices[indices < n_base]
        extra = [self.extras[i - n_base] for i in sorted(indices[indices >= n_base])]
        if base_idx.size == 0:
            raise ValueError("a subset must keep at least one operation of the descriptor family.")
        kept = tuple(c for c in EXTRA_CHANNELS if c in extra)
        return replace(self, base=self.base.subset(base_idx), extras=kept)

    def operation_names(self) -> list[str]:
        return list(self.base.operation_names()) + list(self.extras[: self.n_extra])

    def metadata(self) -> dict:
        out = dict(self.base.metadata())
        out.update(background=self.background if self.background else "none",
                   extra_channels=list(self.extras[: self.n_extra]) or "none")
        if self.has_lattice:
            out["crystallinity_shifts"] = np.asarray(self.lattice_shifts).reshape(-1, 2)
            out.update({f"stats_{k}": (np.asarray(v) if isinstance(v, tuple) else v) for k, v in self.stats.items()})
        return out
