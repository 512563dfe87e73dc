"""The real images of ``../shared/data/real``: loading and reference labels.

Used by ``benchmarks/bench_real.py`` and ``tests/test_bench_real.py``. Nothing here
uses ``hyperspy_symseg``: every reference label image is derived from physics visible
in the image (intensity, lattice fringes), never from the segmenter it judges.

Tools (all NumPy/SciPy; ``p`` is the lattice period measured by :func:`lattice_period`)
-----------------------------------------------------------------------------------------
* :func:`lattice_period` - the d-spacing of the strongest peak of the power spectrum
  (Hann window, mean removed), periods above 64 px ignored (that excludes the particle
  envelope). It is a plane spacing, not a lattice vector: good enough to set blur widths
  and unscored bands, which is all it is used for.
* :func:`bragg_peaks`, :func:`bragg_amplitudes` - the strongest spots of the power
  spectrum (one of each Friedel pair) and, per spot g, the local amplitude of its fringes
  |IFFT(FFT(image) * exp(-|k - g|^2 / (2 (1/(4p))^2)))|, i.e. a Bragg-filtered image
  (geometric phase analysis style); real-space resolution ~0.64 p. The image is padded
  by reflection before the FFT so that the periodic wrap does not fake edges.
* Particle (crystal vs vacuum) references: Gaussian blur of sigma = p (the lattice
  modulation is damped by exp(-2 pi^2) ~ 3e-9), Otsu threshold of the blurred image to
  get the two class means (vacuum ``lo``, particle ``hi``), then the mask
  ``blurred > lo + 0.25 (hi - lo)``. The 25 % level (instead of Otsu's midpoint) keeps
  the dim outermost atom columns of a thinning particle inside the crystal (Otsu's
  level cuts one to two of them off on every particle here; checked on the overlays).
* Interfaces: the row of the steepest intensity step, traced per column on the image
  blurred with sigma_x = p, sigma_y = p / 2 (so it follows steps of the interface),
  then a running median over 2 p columns.
* Grains: amplitudes of the strongest Bragg spots; spots whose amplitude maps are
  positively correlated belong to the same grain. Seed A = the strongest spot, seed B =
  the spot least correlated with A; the other spots join the seed they correlate with
  best. Grain score = mean z-scored amplitude of group A minus that of group B, Otsu
  threshold.
* Cleanup: connected components smaller than (2 p)^2 are merged into the surrounding
  label. Unscored band: every pixel within ``band`` px of a reference boundary does not
  count; ``band`` = p, except: particles max(p, half the width of the edge ramp, i.e.
  of the median distance between the 25 % and 75 % contours of the blurred image: the
  rounded, thinning edges of the Au particles fade over ~5 periods), the MoS2 hole p/4
  (the hole is only ~3 periods across).

Cases and how far each reference is trusted (checked on the overlays)
---------------------------------------------------------------------
* nanoparticle_0, PtIr, Pb (particle on vacuum / dimmer matrix): trusted; the 25 %
  contour runs just outside the outermost visible atom columns.
* Au_particles (2048^2 EMD binned 2x2): medium; the particles' edges fade over ~5
  periods, hence the wider band; inside vs outside is unambiguous.
* interface_1: trusted; interface row 691-699 (median 697; the README's "~690" is an
  estimate), flat. The burned-in scale bar (pixels >= 250 at rows 925-1041, cols
  808-1008, so cropping rows > 980 would not remove it) is removed by keeping
  columns < 800.
* PTO_SRO: trusted for the lower interface (148-173 px, it steps down by ~20 px at
  x ~ 300-400 and is followed). The README's upper interface is not sharp: the peak
  intensity of the first two atom rows (y ~ 10 and 35) fades from SRO-like (~32k) to
  the PTO level (~27k) by the third row, most clearly on the left half. The top 3 p
  (51 px) are left unscored, so the reference has 2 regions (PTO, SRO). The PTO layer
  of this supercrystal has curved planes (polar domains), so a segmenter may
  legitimately find sub-patterns inside it; they count as errors here.
* Au_GB: trusted; the two grains are ~22 deg apart (spots at 46 / 114 / 174 deg vs
  25 / 74 / 130 deg), the boundary runs through the dark dislocation-core-like spots.
* ytian_GB: medium-trusted; the boundary follows the row of dark GB spots and its step
  (which moves between frames), smoothed over ~p (52 px); band p.
* rhambach: grains trusted - the README's "faint line defect" is the boundary between
  two graphene grains rotated by 30 deg (spot groups 57.5 / 117.6 / 177.8 vs
  27.6 / 87.8 / 147.5 deg, identical d-spacing). The contamination corner is traced by
  eye (``RHAMBACH_CONTAMINATION``): low precision, inside the band mostly.
* MoS2_hole: trusted for the one hole (~1400 px, 0.13 % of the image); accuracy is
  dominated by the crystal, see the balanced accuracy.
* HEA (pySTEM high-entropy alloy), multidomain_2: no reliable reference (overlapping
  lamellae and moire, Fourier-filtered overlapping domains); only k is reported.
* Controls (STO, STO_ABF, atomap_ADF): one crystal by construction.
* Graphene: the human masks (``graphene_unet_labelled``), 8 px band.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED_DATA

REAL = SHARED_DATA / "real"
GRAPHENE = REAL / "graphene_unet_labelled"


# --------------------------------------------------------------------------- loading
def _signal(data, scale=1.0, units=None, title=""):
    import hyperspy.api as hs

    s = hs.signals.Signal2D(np.asarray(data, dtype=np.float32))
    for ax in s.axes_manager.signal_axes:
        ax.scale = scale
        if units:
            ax.units = units
    s.metadata.General.title = title
    return s


def load_file(name: str):
    """The whole file as a float32 ``Signal2D`` (a stack for the series files).

    Calibration as stored; StatSTEM ``.mat`` files get ``dx`` (Angstrom/px) as nm.
    """
    import hyperspy.api as hs
    import scipy.io

    path = REAL / name
    if name.endswith(".mat"):
        m = scipy.io.loadmat(path, squeeze_me=True, struct_as_record=False)["input"]
        return _signal(m.obs, float(m.dx) / 10.0, "nm", name)
    if name.endswith(".npy"):
        return _signal(np.load(path), 1.0, None, name)
    s = hs.load(path, file_format="HSPY") if name.endswith(".hdf5") else hs.load(path)
    if s._lazy:  # pragma: no cover - none of the files loads lazily by default
        s.compute()
    s = s.deepcopy()
    s.change_dtype("float32")
    s.metadata.General.title = name
    return s


# --------------------------------------------------------------------------- image tools
def lattice_period(image: np.ndarray, max_period: float = 64.0) -> float:
    """d-spacing in px of the strongest power-spectrum peak with period < ``max_period``."""
    d = np.asarray(image, dtype=np.float64)
    ny, nx = d.shape
    window = np.outer(np.hanning(ny), np.hanning(nx))
    power = np.abs(np.fft.fft2((d - d.mean()) * window)) ** 2
    k = np.hypot(*np.meshgrid(np.fft.fftfreq(ny), np.fft.fftfreq(nx), indexing="ij"))
    power[k < 1.0 / max_period] = 0.0
    return float(1.0 / k.flat[int(np.argmax(power))])


def otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold (maximum between-class variance) of a 1D sample."""
    v = np.asarray(values, dtype=np.float64).ravel()
    hist, edges = np.histogram(v, bins)
    centres = 0.5 * (edges[1:] + edges[:-1])
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    s0 = np.cumsum(hist * centres)
    m0 = s0 / np.maximum(w0, 1)
    m1 = (s0[-1] - s0) / np.maximum(w1, 1)
    return float(centres[int(np.argmax(w0 * w1 * (m0 - m1) ** 2))])


def bragg_peaks(image: np.ndarray, n: int = 6, max_period: float = 64.0, min_power: float = 0.05):
    """The ``n`` strongest spots (one per Friedel pair), as (n, 2) (ky, kx) in cycles/px.

    Local maxima (7 x 7) of the smoothed power spectrum, period < ``max_period``, power
    at least ``min_power`` of the strongest.
    """
    d = np.asarray(image, dtype=np.float64)
    ny, nx = d.shape
    window = np.outer(np.hanning(ny), np.hanning(nx))
    power = ndi.gaussian_filter(np.abs(np.fft.fftshift(np.fft.fft2((d - d.mean()) * window))) ** 2, 1.0)
    ky = np.fft.fftshift(np.fft.fftfreq(ny))
    kx = np.fft.fftshift(np.fft.fftfreq(nx))
    KY, KX = np.meshgrid(ky, kx, indexing="ij")
    half = (KY > 0) | ((KY == 0) & (KX > 0))
    peak = (power == ndi.maximum_filter(power, 7)) & (np.hypot(KY, KX) > 1.0 / max_period) & half
    values = power[peak]
    order = np.argsort(-values)[:n]
    keep = values[order] >= min_power * values[order[0]]
    return np.c_[KY[peak][order], KX[peak][order]][keep], values[order][keep]


def bragg_amplitudes(image: np.ndarray, spots: np.ndarray, period: float) -> np.ndarray:
    """(n, ny, nx) local fringe amplitude of each spot (Gaussian mask sigma 1/(4 period))."""
    d = np.asarray(image, dtype=np.float64)
    pad = int(np.ceil(2 * period))
    dp = np.pad(d - d.mean(), pad, mode="reflect")
    F = np.fft.fft2(dp)
    KY, KX = np.meshgrid(np.fft.fftfreq(dp.shape[0]), np.fft.fftfreq(dp.shape[1]), indexing="ij")
    sk = 1.0 / (4.0 * period)
    out = np.empty((len(spots),) + d.shape)
    for i, (gy, gx) in enumerate(spots):
        mask = np.exp(-((KY - gy) ** 2 + (KX - gx) ** 2) / (2 * sk**2))
        out[i] = np.abs(np.fft.ifft2(F * mask))[pad:-pad, pad:-pad]
    return out


def merge_small(labels: np.ndarray, min_area: float) -> np.ndarray:
    """Connected components smaller than ``min_area`` px take the label surrounding them."""
    out = labels.copy()
    for _ in range(3):
        changed = False
        for lab in np.unique(out):
            comp, n = ndi.label(out == lab)
            if n == 0:
                continue
            sizes = np.bincount(comp.ravel())[1:]
            for i in np.nonzero(sizes < min_area)[0]:
                region = comp == i + 1
                ring = ndi.binary_dilation(region, iterations=2) & ~region
                if ring.any():
                    out[region] = np.bincount(out[ring]).argmax()
                    changed = True
        if not changed:
            break
    return out


def scored_mask(labels: np.ndarray, band: float) -> np.ndarray:
    """True where a pixel is farther than ``band`` px from every boundary between labels."""
    edge = np.zeros(labels.shape, bool)
    dy = labels[1:, :] != labels[:-1, :]
    dx = labels[:, 1:] != labels[:, :-1]
    edge[1:, :] |= dy
    edge[:-1, :] |= dy
    edge[:, 1:] |= dx
    edge[:, :-1] |= dx
    if not edge.any():
        return np.ones(labels.shape, bool)
    return ndi.distance_transform_edt(~edge) > band


# --------------------------------------------------------------------------- references
def particle_labels(image: np.ndarray, period: float, level: float = 0.25) -> tuple[np.ndarray, dict]:
    """1 = particle (bright), 0 = vacuum / support, from the blurred intensity."""
    blurred = ndi.gaussian_filter(np.asarray(image, dtype=np.float64), period)
    t = otsu_threshold(blurred)
    lo, hi = blurred[blurred <= t].mean(), blurred[blurred > t].mean()
    threshold = lo + level * (hi - lo)
    labels = (blurred > threshold).astype(np.int64)
    labels = merge_small(labels, (2 * period) ** 2)
    # width of the edge ramp: median distance from the 75 % contour to the 25 % contour
    inner = blurred > lo + 0.75 * (hi - lo)
    contour75 = inner & ~ndi.binary_erosion(inner)
    ramp = float(np.median(ndi.distance_transform_edt(labels)[contour75])) if contour75.any() else 0.0
    return labels, {"threshold": threshold, "vacuum level": lo, "particle level": hi, "ramp 25-75 % px": ramp}


def hole_labels(image: np.ndarray, period: float, z: float = 4.0) -> tuple[np.ndarray, dict]:
    """1 = crystal, 0 = hole: blurred (sigma p/2) image below median - z robust sigma."""
    blurred = ndi.gaussian_filter(np.asarray(image, dtype=np.float64), period / 2)
    med = np.median(blurred)
    sigma = 1.4826 * np.median(np.abs(blurred - med))
    hole = blurred < med - z * sigma
    comp, _ = ndi.label(hole)
    sizes = np.bincount(comp.ravel())[1:]
    hole = np.isin(comp, 1 + np.nonzero(sizes >= period**2)[0])
    return (~hole).astype(np.int64), {"robust sigma": sigma, "hole px": int(hole.sum())}


def interface_rows(image: np.ndarray, period: float, rows: tuple[int, int], sign: int) -> np.ndarray:
    """Per column, the row in ``[rows[0], rows[1])`` of the steepest step of intensity.

    ``sign=-1``: bright above, dark below (the most negative d/dy); ``sign=+1`` the reverse.
    """
    blurred = ndi.gaussian_filter(np.asarray(image, dtype=np.float64), (period / 2, period))
    grad = np.gradient(blurred, axis=0)[rows[0]:rows[1]]
    trace = rows[0] + np.argmax(sign * grad, axis=0)
    size = int(2 * period) | 1
    return ndi.median_filter(trace.astype(np.float64), size=size, mode="nearest")


def grain_labels(image: np.ndarray, period: float, n_spots: int = 6) -> tuple[np.ndarray, dict]:
    """0 / 1 = the two grains, from grouped Bragg-spot amplitudes (see module docstring)."""
    spots, _ = bragg_peaks(image, n_spots)
    amps = bragg_amplitudes(image, spots, period)
    amps = np.array([ndi.gaussian_filter(a, period) for a in amps])
    z = (amps - amps.mean(axis=(1, 2), keepdims=True)) / amps.std(axis=(1, 2), keepdims=True)
    corr = np.corrcoef(z.reshape(len(z), -1))
    a, b = 0, int(np.argmin(corr[0]))
    group = np.where(corr[:, a] >= corr[:, b], 0, 1)
    score = z[group == 0].mean(axis=0) - z[group == 1].mean(axis=0)
    labels = (score < otsu_threshold(score)).astype(np.int64)
    labels = merge_small(labels, (2 * period) ** 2)
    angles = np.degrees(np.arctan2(spots[:, 0], spots[:, 1]))
    return labels, {"spots (period px, angle deg, group)": [
        (round(float(1 / np.hypot(*g)), 1), round(float(t), 1), int(k)) for g, t, k in zip(spots, angles, group)]}


def polygon_mask(shape, vertices) -> np.ndarray:
    """True inside the polygon ``vertices`` = [(row, col), ...]."""
    from matplotlib.path import Path as MplPath

    yy, xx = np.mgrid[: shape[0], : shape[1]]
    path = MplPath(np.asarray(vertices, dtype=np.float64)[:, ::-1])
    return path.contains_points(np.c_[xx.ravel(), yy.ravel()], radius=0.5).reshape(shape)


# --------------------------------------------------------------------------- cases
@dataclass
class Reference:
    """Reference labels of one image or stack: ``labels`` and ``scored`` are (frames, ny, nx)."""

    labels: np.ndarray
    scored: np.ndarray
    regions: list[str]
    period: float
    info: dict = field(default_factory=dict)

    @property
    def n_regions(self) -> int:
        return len(self.regions)

    def boundary(self) -> np.ndarray:
        """(frames, ny, nx) True on reference boundaries (for drawing)."""
        out = np.zeros(self.labels.shape, bool)
        for f, lab in enumerate(self.labels):
            out[f, 1:, :] |= lab[1:, :] != lab[:-1, :]
            out[f, :, 1:] |= lab[:, 1:] != lab[:, :-1]
        return out


def _particle(frame, p):
    labels, info = particle_labels(frame, p)
    band = max(p, info["ramp 25-75 % px"] / 2)
    info["band px"] = band
    return labels, scored_mask(labels, band), info


def _hole(frame, p):
    labels, info = hole_labels(frame, p)
    band = p / 4
    info["band px"] = round(band, 1)
    return labels, scored_mask(labels, band), info


def _interface(sign, top_unscored=0.0, search=(0.1, 0.95)):
    def ref(frame, p):
        ny = frame.shape[0]
        rows = (int(max(search[0] * ny, 2 * p)), int(min(search[1] * ny, ny - p / 2)))
        trace = interface_rows(frame, p, rows, sign)
        labels = (np.arange(ny)[:, None] >= trace[None, :]).astype(np.int64)
        scored = scored_mask(labels, p)
        if top_unscored:
            scored[: round(top_unscored * p)] = False
        info = {"interface row (median)": float(np.median(trace)), "min": float(trace.min()), "max": float(trace.max()),
                "search rows": rows}
        return labels, scored, info

    return ref


def _grain(frame, p):
    labels, info = grain_labels(frame, p)
    return labels, scored_mask(labels, p), info


#: Contamination corner of rhambach_graphene_defect_raw.tif, (row, col) vertices traced
#: by eye along the dark line that bounds the disordered patch (visual).
RHAMBACH_CONTAMINATION = [(0, 0), (0, 95), (70, 90), (90, 70), (108, 40), (128, 0)]


def _rhambach(frame, p):
    labels, info = grain_labels(frame, p)
    labels[polygon_mask(frame.shape, RHAMBACH_CONTAMINATION)] = 2
    return labels, scored_mask(labels, p), info


@dataclass(frozen=True)
class Case:
    """One real image: how to load it, what the reference is and what it should score."""

    key: str
    file: str
    group: str  # particle, interface, grain, hole, k-only, control
    regions: tuple[str, ...] = ()
    target: float | None = None
    reference: Callable | None = None
    note: str = ""
    crop: tuple | None = None  # (x slice, y slice) for isig
    binning: int = 1
    frame: int | None = None  # a single frame of a stack (None: keep all frames)
    scale: float | None = None  # calibration to set (nm/px) when the file has none
    units: str | None = None  # units to set when the file stores the scale without them
    crystal: tuple[int, ...] = ()  # reference labels that are crystalline (for crystal / not-crystal)

    @property
    def n_regions(self) -> int:
        return len(self.regions)


CASES: list[Case] = [
    Case("nanoparticle_0", "atomsegnet_nanoparticle_0.png", "particle", ("vacuum", "particle"), 0.95, _particle,
         "blurred intensity (sigma p), 25 % level between the Otsu class means", crystal=(1,)),
    Case("PtIr", "statstem_ExamplePtIr.mat", "particle", ("vacuum", "particle"), 0.95, _particle,
         "blurred intensity (sigma p), 25 % level between the Otsu class means", crystal=(1,)),
    Case("Pb", "statstem_ExamplePb.mat", "particle", ("matrix", "particle"), 0.95, _particle,
         "blurred intensity (sigma p), 25 % level between the Otsu class means", crystal=(1,)),
    Case("Au_particles", "temul_toolkit_example_Au_nanoparticle.emd", "particle", ("vacuum", "particle"), 0.95,
         _particle, "binned 2x2 (1024^2, 0.015 nm/px); blurred intensity (sigma p), 25 % level", binning=2,
         crystal=(1,)),
    Case("Au_particles_full", "temul_toolkit_example_Au_nanoparticle.emd", "particle", ("vacuum", "particle"), 0.95,
         _particle, "the file as loaded (2048^2, 0.0075 nm/px: a 28 px period); blurred intensity (sigma p), "
         "25 % level", crystal=(1,)),
    Case("interface_1", "atomsegnet_interface_1.png", "interface", ("upper crystal", "lower crystal"), 0.97,
         _interface(-1), "columns >= 800 cropped (scale bar: rows 925-1041, cols 808-1008); steepest intensity "
         "drop per column (blur sigma_y p/2, sigma_x p)", crop=(slice(0, 800), slice(None)), scale=2.0 / 138),
    Case("PTO_SRO", "temul_PTO-SRO_Aligned_HAADF.hspy", "interface", ("PbTiO3", "SrRuO3"), 0.97,
         _interface(+1, top_unscored=3.0), "steepest intensity rise per column (PTO above, SRO below); the top "
         "3 p rows (brightness fading from SRO-like to PTO over the first two atom rows) unscored"),
    Case("Au_GB", "atomsegnet_Au_grain_boundary_512px.png", "grain", ("grain A", "grain B"), 0.97, _grain,
         "Bragg-spot amplitude groups (two grains ~22 deg apart)"),
    Case("ytian_GB", "ytian_GB_disp_3frames.tif", "grain", ("grain A", "grain B"), 0.97, _grain,
         "Bragg-spot amplitude groups per frame (3 frames, one label matching for all); units nm (ImageJ "
         "header, see README)", units="nm"),
    Case("rhambach", "rhambach_graphene_defect_raw.tif", "grain", ("grain A", "grain B", "contamination"), None,
         _rhambach, "two graphene grains 30 deg apart (Bragg-spot groups; the 'faint line defect' is their "
         "boundary) + contamination corner traced by eye", crystal=(0, 1)),
    Case("MoS2_hole", "temul_toolkit_example_Se_implanted_MoS2.dm3", "hole", ("hole", "MoS2"), None, _hole,
         "blurred (sigma p/2) below median - 4 robust sigma; band p/4", crystal=(1,)),
    Case("HEA", "pystem_high_entropy_alloy.npy", "k-only", note="lamellae + moire: no reliable reference"),
    Case("multidomain_2", "atomsegnet_hrtem_multidomain_2.png", "k-only",
         note="overlapping, Fourier-filtered domains: no reliable reference"),
    Case("STO", "openncem_16_STOimage.emi", "control", note="SrTiO3 HAADF, one crystal"),
    Case("STO_ABF", "hyperspy_demos_stem_abf_data_imagestack.hspy", "control", frame=0,
         note="SrTiO3 ABF, frame 0 of 5"),
    Case("atomap_ADF", "atomap_test_ADF_cropped.hdf5", "control", units="nm",
         note="SrTiO3 ADF, one crystal (units unset in the file: nm assumed, 0.0093 nm/px fits SrTiO3)"),
]

CASES_BY_KEY = {c.key: c for c in CASES}


def load_case(case: Case):
    """The signal to segment: cropped, one frame or the stack, binned, calibrated."""
    s = load_file(case.file)
    if case.frame is not None and s.axes_manager.navigation_dimension:
        s = s.inav[case.frame]
    if case.crop is not None:
        s = s.isig[case.crop[0], case.crop[1]]
    for ax in s.axes_manager.signal_axes:
        if case.scale is not None:
            ax.scale = case.scale
            ax.units = "nm"
        if case.units is not None:
            ax.units = case.units
    if case.binning > 1:
        scale = (1,) * s.axes_manager.navigation_dimension + (case.binning, case.binning)
        s = s.rebin(scale=scale)
        s.change_dtype("float32")
    s.metadata.General.title = case.key
    return s


def frames_of(signal) -> np.ndarray:
    """(frames, ny, nx) float64 view of an image or a stack."""
    d = np.asarray(signal.data, dtype=np.float64)
    return d.reshape((-1,) + d.shape[-2:])


def reference(case: Case, signal=None) -> Reference | None:
    """The reference labels of ``case`` (None when it has none)."""
    if case.reference is None:
        return None
    signal = load_case(case) if signal is None else signal
    labels, scored, infos, periods = [], [], [], []
    for frame in frames_of(signal):
        p = lattice_period(frame)
        lab, sc, info = case.reference(frame, p)
        labels.append(lab)
        scored.append(sc)
        infos.append(info)
        periods.append(p)
    info = infos[0] if len(infos) == 1 else {f"frame {i}": v for i, v in enumerate(infos)}
    return Reference(np.array(labels), np.array(scored), list(case.regions), float(np.median(periods)), info)


# --------------------------------------------------------------------------- graphene
def graphene_pairs() -> list[tuple[str, Path, Path]]:
    """[(name, image path, label path)] of the labelled graphene set, sorted by name."""
    out = []
    for label in sorted(GRAPHENE.glob("*_LABEL.png")):
        image = label.with_name(label.name.replace("_LABEL", ""))
        if image.exists():
            out.append((image.stem, image, label))
    return out


def load_graphene(image_path: Path, label_path: Path):
    """(Signal2D float32 image, int64 labels 1 = graphene (crystal), 0 = contamination)."""
    from PIL import Image

    img = np.asarray(Image.open(image_path).convert("L"), dtype=np.float32)
    lab = np.asarray(Image.open(label_path).convert("L"))
    return _signal(img, 1.0, None, image_path.stem), (lab < 128).astype(np.int64)


#: Unscored band (px) around the human boundaries of the graphene masks: hand-drawn,
#: smooth outlines; 8 px ~ the largest measured period of the set (3.0-7.1 px: the
#: images are not all at the same magnification) and 3 % of the 256 px image.
GRAPHENE_BAND = 8.0


def graphene_reference(labels: np.ndarray, period: float) -> Reference:
    """The human mask (1 = graphene) with an unscored band of GRAPHENE_BAND px around its boundary."""
    return Reference(labels[None], scored_mask(labels, GRAPHENE_BAND)[None], ["contamination", "graphene"], period)
