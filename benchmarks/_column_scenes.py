"""Forward-model scenes with known column positions for the column and denoising benchmarks.

Built from :mod:`hyperspy_symseg.simulate`. A thickness ramp scales each column's
intensity with its position (a wedge thinning towards one side) and adds a rising
background; a vacuum region is a half plane without columns. Column sizes and periods
are given in pixels (pixel size 0.02 nm).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hyperspy_symseg import simulate as sm

PIXEL = 0.02  # nm


class RampScene(sm.Scene):
    """A scene whose column intensities fall linearly along x from 1 to ``low`` (a wedge)."""

    def __init__(self, *args, low: float = 0.25, reverse: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.low = low
        self.reverse = reverse

    def resolved(self, random_state=None):
        base = super().resolved(random_state)
        return RampScene(base.shape, base.pixel_size, base.regions, base.min_separation, base.name,
                         low=self.low, reverse=self.reverse)

    def columns(self, margin=0.0, shift=(0.0, 0.0)):
        cols = super().columns(margin, shift)
        width = (self.shape[1] - 1) * self.pixel_size
        u = np.clip(cols.positions[:, 1] / width, 0.0, 1.0)
        if self.reverse:
            u = 1.0 - u
        f = self.low + (1.0 - self.low) * u
        return sm.ColumnSet(cols.positions, cols.regions, cols.intensities * f, cols.sites)


@dataclass
class SceneSpec:
    name: str
    lattice: str  # square, hexagonal, honeycomb, dumbbell, two_grain
    period: float  # nearest-neighbour distance in px
    sigma: float  # probe sigma in px
    ramp: bool = False
    vacuum: bool = False
    shape: tuple[int, int] = (384, 384)

    def lattice_obj(self, rotation: float = 7.0) -> sm.Lattice:
        d = self.period * PIXEL
        if self.lattice == "square":
            return sm.Lattice.square(d, rotation=rotation)
        if self.lattice in ("hexagonal", "two_grain"):
            return sm.Lattice.hexagonal(d, rotation=rotation)
        if self.lattice == "honeycomb":
            return sm.Lattice.honeycomb(d * math.sqrt(3), rotation=rotation, intensities=(1.0, 0.6))
        if self.lattice == "dumbbell":
            # columns a / 4 apart in a dumbbell: period = a / 4
            return sm.Lattice.dumbbell_110(4 * d, rotation=rotation)
        raise ValueError(self.lattice)


def simulate(spec: SceneSpec, counts: float, seed: int, scan_sigma: float = 0.0, background: float = 0.1,
             shape: tuple[int, int] | None = None) -> sm.SimulationResult:
    """One image of ``spec`` at ``counts`` per unit column peak.

    ``background`` is the constant background relative to a column peak; a ramp adds a
    rising linear background (0 -> ``background``) on top. ``scan_sigma`` (nm) adds
    registered scan noise.
    """
    shape = shape or spec.shape
    lat = spec.lattice_obj()
    regions = [sm.Region(lat, name="crystal")]
    if spec.lattice == "two_grain":
        regions.append(sm.Region(lat.rotated(22.0), sm.HalfPlane(85.0, 0.0), name="grain_2"))
    if spec.vacuum:
        # vacuum on the left quarter; the wedge thins towards it
        width = shape[1] * PIXEL
        regions.append(sm.Region(None, sm.HalfPlane(270.0, 0.25 * width), name="vacuum"))
    kind = RampScene if spec.ramp else sm.Scene
    kw = {"low": 0.25} if spec.ramp else {}
    scene = kind(shape, PIXEL, regions, name=spec.name, **kw)
    bgs = [sm.ConstantBackground(background)]
    if spec.ramp:
        bgs.append(sm.LinearBackground(0.0, (0.0, background / (shape[1] * PIXEL))))
    probe = sm.GaussianProbe(fwhm=spec.sigma * PIXEL * 2.0 * math.sqrt(2.0 * math.log(2.0)))
    scan = sm.ScanNoise(sigma=scan_sigma) if scan_sigma > 0 else None
    return sm.simulate_image(scene, probe, peak_counts=counts, background=bgs, scan_noise=scan, random_state=seed)


DETECTION_SCENES = [
    SceneSpec("square p8 s1.6", "square", 8.0, 1.6),
    SceneSpec("hexagonal p12 s1.9", "hexagonal", 12.0, 1.9),
    SceneSpec("hexagonal p15 s1.9 ramp", "hexagonal", 15.0, 1.9, ramp=True),
    SceneSpec("square p18 s2.5 ramp+vacuum", "square", 18.0, 2.5, ramp=True, vacuum=True),
    SceneSpec("hexagonal p25 s3 vacuum", "hexagonal", 25.0, 3.0, vacuum=True),
    SceneSpec("honeycomb p10 s1.9", "honeycomb", 10.0, 1.9),
    SceneSpec("dumbbell p8 s1.6 ramp", "dumbbell", 8.0, 1.6, ramp=True),
    SceneSpec("two grains p15 s1.9", "two_grain", 15.0, 1.9),
]

PRECISION_SCENE = SceneSpec("square p18 s2.5", "square", 18.0, 2.5)


def match(found: np.ndarray, truth: np.ndarray, tol: float) -> np.ndarray:
    """(M, 2) index pairs (found, truth), each used once, nearest first, within ``tol``."""
    from scipy.spatial import cKDTree

    if len(found) == 0 or len(truth) == 0:
        return np.zeros((0, 2), int)
    d, j = cKDTree(truth).query(found, k=3, distance_upper_bound=tol)
    cand = [(d[i, k], i, j[i, k]) for i in range(len(found)) for k in range(3) if np.isfinite(d[i, k])]
    cand.sort()
    used_f, used_t, out = set(), set(), []
    for _, i, t in cand:
        if i in used_f or t in used_t:
            continue
        used_f.add(i)
        used_t.add(t)
        out.append((i, t))
    return np.array(out, int).reshape(-1, 2)


def detection_scores(found: np.ndarray, truth: np.ndarray, tol: float) -> dict:
    m = match(found, truth, tol)
    tp = len(m)
    p = tp / len(found) if len(found) else (1.0 if len(truth) == 0 else 0.0)
    r = tp / len(truth) if len(truth) else 1.0
    f1 = 2 * p * r / (p + r) if p + r > 0 else 0.0
    err = found[m[:, 0]] - truth[m[:, 1]] if tp else np.zeros((0, 2))
    # RMS of one coordinate
    rms = float(np.sqrt(np.mean(err**2))) if tp else float("nan")
    return {"precision": p, "recall": r, "f1": f1, "rms": rms, "matches": m}


def defect_image(counts: float, seed: int, *, shape=(384, 384), period: float = 15.0, sigma: float = 1.9,
                 n_vacancies: int = 12, n_dopants: int = 12, dopant: float = 1.6, background: float = 0.1,
                 scan_sigma: float = 0.0):
    """Hexagonal crystal with vacancies and dopant (brighter) columns at known sites.

    Returns ``(noisy, clean, positions_px, vacancies_px, dopants_px, reference_clean)`` where
    ``reference_clean`` is the clean image of the perfect crystal (the same lattice
    without defects), used to measure the contrast of each defect.
    """
    rng = np.random.default_rng(seed)
    lat = sm.Lattice.hexagonal(period * PIXEL, rotation=7.0)
    scene = sm.Scene(shape, PIXEL, [sm.Region(lat, origin=(0.013, 0.021))]).resolved(rng)
    cols = scene.columns(margin=1.0)
    pos = cols.positions
    ppx = pos / PIXEL
    inner = np.flatnonzero((ppx[:, 0] > 2 * period) & (ppx[:, 0] < shape[0] - 2 * period)
                           & (ppx[:, 1] > 2 * period) & (ppx[:, 1] < shape[1] - 2 * period))
    # well separated defect sites
    chosen: list[int] = []
    for k in rng.permutation(inner):
        if all(np.hypot(*(ppx[k] - ppx[c])) > 2.5 * period for c in chosen):
            chosen.append(int(k))
        if len(chosen) == n_vacancies + n_dopants:
            break
    vac = np.array(chosen[:n_vacancies], dtype=np.int64)
    dop = np.array(chosen[n_vacancies:], dtype=np.int64)
    inten = np.ones(len(pos))
    inten[dop] = dopant
    keep = np.ones(len(pos), bool)
    keep[vac] = False
    probe = sm.GaussianProbe(fwhm=sigma * PIXEL * 2.0 * math.sqrt(2.0 * math.log(2.0)))
    clean = sm.render_columns(pos[keep], inten[keep], shape, PIXEL, probe) + background
    perfect = sm.render_columns(pos, np.ones(len(pos)), shape, PIXEL, probe) + background
    noisy = rng.poisson(np.clip(clean, 0, None) * counts).astype(np.float64)
    return noisy, clean * counts, ppx[keep], ppx[vac], ppx[dop], perfect * counts


def site_mean(image: np.ndarray, sites: np.ndarray, radius: float = 1.5) -> np.ndarray:
    """Mean of ``image`` in a disk of ``radius`` px around each site."""
    yy, xx = np.mgrid[: image.shape[0], : image.shape[1]]
    out = []
    for y, x in np.asarray(sites).reshape(-1, 2):
        m = (yy - y) ** 2 + (xx - x) ** 2 <= radius**2
        out.append(image[m].mean())
    return np.array(out)


def defect_contrast(image: np.ndarray, perfect_clean: np.ndarray, clean: np.ndarray, sites: np.ndarray) -> float:
    """Kept fraction of the defects' contrast: ``mean(image - perfect) / mean(clean - perfect)`` at the sites.

    1 = the defect is fully kept, 0 = painted over by the lattice average. Uses the
    difference to the perfect crystal at each defect site, so it works for vacancies
    (negative contrast) and dopants (positive) alike.
    """
    got = site_mean(image, sites) - site_mean(perfect_clean, sites)
    true = site_mean(clean, sites) - site_mean(perfect_clean, sites)
    return float(np.sum(got * np.sign(true)) / np.sum(np.abs(true)))
