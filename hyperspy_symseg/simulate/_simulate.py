"""simulate_image and simulate_series: a scene and an imaging setup in, a SimulationResult out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._lattices import Amorphous, Lattice
from ._noise import ScanNoise, _as_backgrounds, _Background
from ._probes import GaussianProbe, HRTEMTransfer, PhysicalProbe, _as_probe, _Probe
from ._render import _render_frame
from ._result import _LABEL_CONVENTION, SimulationResult, _make_signals
from ._scene import Scene
from ._utils import _pair, _plain, _positive, _rng


def _imaging_setup(
    probe: Any, peak_counts: Any, dose: Any, peak_fraction: Any, scan_noise: Any, background: Any,
    read_noise: Any,
) -> tuple[_Probe, float | None, float, list[_Background]]:
    probe = _as_probe(probe)
    if peak_counts is not None and dose is not None:
        raise ValueError("give at most one of peak_counts and dose")
    peak_fraction = _positive("peak_fraction", peak_fraction)
    if peak_fraction > 1:
        raise ValueError(f"peak_fraction must be in (0, 1], got {peak_fraction}")
    scale = None
    if peak_counts is not None:
        scale = _positive("peak_counts", peak_counts)
    elif dose is not None:
        scale = _positive("dose", dose) * peak_fraction
    if scan_noise is not None and not isinstance(scan_noise, ScanNoise):
        raise TypeError(f"scan_noise must be a ScanNoise or None, got {type(scan_noise).__name__}")
    read_noise = _positive("read_noise", read_noise, allow_zero=True)
    return probe, scale, read_noise, _as_backgrounds(background)


def _meta(
    scene: Scene, probe: _Probe, backgrounds: list[_Background], scan_noise: ScanNoise | None,
    peak_counts: Any, dose: Any, peak_fraction: float, read_noise: float, random_state: Any, extra: dict,
) -> dict:
    rs = random_state if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool) else -1
    meta = {
        "model": _MODELS.get(probe._mode, probe._mode),
        "scene": scene.to_dict(),
        "region_names": scene.region_names,
        "label_convention": _LABEL_CONVENTION,
        "probe": probe.to_dict(),
        "background": {f"background_{k}": b.to_dict() for k, b in enumerate(backgrounds)},
        "scan_noise": {"type": "None"} if scan_noise is None else scan_noise.to_dict(),
        "peak_counts": -1.0 if peak_counts is None else float(peak_counts),
        "dose": -1.0 if dose is None else float(dose),
        "peak_fraction": peak_fraction,
        "read_noise": read_noise,
        "random_state": int(rs),
        "units": "counts" if (peak_counts is not None or dose is not None) else "peak of an isolated unit column",
        "package": "hyperspy_symseg.simulate",
    }
    meta.update(extra)
    return _plain(meta)


_MODELS = {
    "HAADF-STEM": "linear incoherent imaging (HAADF-STEM), Poisson shot noise, per-row scan noise",
    "HRTEM": "weak-phase-object phase contrast through the CTF (HRTEM), Poisson shot noise",
}


def _title(scene: Scene, series: bool = False, mode: str = "HAADF-STEM") -> str:
    what = scene.name or " / ".join(scene.region_names)
    return f"Simulated {mode} {'series' if series else 'image'}: {what}"


def simulate_image(
    scene: Scene,
    probe: GaussianProbe | PhysicalProbe | HRTEMTransfer | None = None,
    *,
    peak_counts: float | None = None,
    dose: float | None = None,
    peak_fraction: float = 0.1,
    scan_noise: ScanNoise | None = None,
    background: Any = None,
    read_noise: float = 0.0,
    shift: Sequence[float] = (0.0, 0.0),
    random_state: Any = None,
) -> SimulationResult:
    """Simulate one atomic-resolution image of a scene, with ground truth.

    Parameters
    ----------
    scene : Scene
        The regions and the sampling (shape, pixel size).
    probe : GaussianProbe, PhysicalProbe or HRTEMTransfer, optional
        Probe PSF (incoherent HAADF-STEM imaging) or the phase-contrast transfer of
        :class:`HRTEMTransfer` (HRTEM imaging, bright field 1); default
        ``GaussianProbe(fwhm=0.09)``; :func:`probe_for_lattice` scales a Gaussian probe
        to the lattice.
    peak_counts : float, optional
        Expected counts at image value 1 (the peak of an isolated column of intensity
        1; the bright field of an HRTEM image); turns on Poisson noise.
    dose : float, optional
        Incident electrons per pixel; expected counts are ``dose * peak_fraction *
        image``. At most one of ``peak_counts`` and ``dose``; with neither the image is
        noise-free (image units, no Poisson noise).
    peak_fraction : float
        Fraction (0, 1] of the incident electrons detected at image value 1 (used with
        ``dose``).
    scan_noise : ScanNoise, optional
        Scan jitter and drift; None for a perfect scan.
    background : number, background object or list of them, optional
        :class:`ConstantBackground`, :class:`LinearBackground`,
        :class:`LowFrequencyBackground` (summed); a number is a constant.
    read_noise : float
        Standard deviation of additive Gaussian noise (counts, or image units without
        dose), >= 0.
    shift : pair of float
        Specimen displacement ``(dy, dx)`` in nm (features appear moved by it).
    random_state : None, int or numpy.random.Generator
        Seeds everything random (lattice origins, amorphous columns, background,
        scan noise, shot noise): the same value gives the same image.

    Returns
    -------
    SimulationResult
        ``image`` (AtomicResolutionImage, float32), ``labels`` (Signal2D, int32),
        ``positions`` ((N, 2) nm), ``column_regions`` ((N,) int), ...

    Notes
    -----
    Expected counts below zero (negative backgrounds) are clipped to zero.

    See Also
    --------
    simulate_series : one frame per scene.
    pixel_size_for_period, probe_for_lattice : the sampling and probe of a lattice.
    two_grain_image, single_crystal : ready-made scenes.

    Examples
    --------
    >>> from hyperspy_symseg import simulate
    >>> lat = simulate.Lattice.hexagonal(a=0.3)
    >>> scene = simulate.Scene((128, 128), simulate.pixel_size_for_period(lat, 10),
    ...                        [simulate.Region(lat), simulate.Region(lat.rotated(25), simulate.HalfPlane(90))])
    >>> sim = simulate.simulate_image(scene, simulate.probe_for_lattice(lat), peak_counts=100, random_state=0)
    >>> sim.image.data.shape, sorted(set(sim.labels.data.ravel().tolist()))
    ((128, 128), [0, 1])
    """
    if not isinstance(scene, Scene):
        raise TypeError(f"scene must be a Scene, got {type(scene).__name__}")
    probe, scale, read_noise, backgrounds = _imaging_setup(
        probe, peak_counts, dose, peak_fraction, scan_noise, background, read_noise
    )
    shift = _pair("shift", shift)
    rng = _rng(random_state)
    scene = scene.resolved(rng)
    backgrounds = [b._prepared(rng) for b in backgrounds]
    fr = _render_frame(scene, probe, backgrounds, scan_noise, scale, read_noise, shift, 0.0, rng)
    meta = _meta(scene, probe, backgrounds, scan_noise, peak_counts, dose, peak_fraction, read_noise, random_state,
                 {"shift": list(shift)})
    quantity = "Counts" if scale is not None else "Intensity (a.u.)"
    image, labels = _make_signals(fr.counts, fr.labels, scene.pixel_size, _title(scene, mode=probe._mode), meta,
                                  probe, None, quantity)
    return SimulationResult(
        image=image, labels=labels, positions=fr.positions, column_regions=fr.regions,
        column_intensities=fr.intensities, column_sites=fr.sites, true_positions=fr.true_positions,
        noise_free=fr.expected, scan_displacement=fr.displacement, scene=scene, region_names=scene.region_names,
    )


def simulate_series(
    scenes: Sequence[Scene],
    probe: GaussianProbe | PhysicalProbe | HRTEMTransfer | None = None,
    *,
    shifts: Any = None,
    frame_time: float = 1.0,
    peak_counts: float | None = None,
    dose: float | None = None,
    peak_fraction: float = 0.1,
    scan_noise: ScanNoise | None = None,
    background: Any = None,
    read_noise: float = 0.0,
    random_state: Any = None,
) -> SimulationResult:
    """Simulate a series, one frame per scene, with per-frame ground truth.

    The scenes must share shape and pixel size. Random lattice origins and amorphous
    seeds are drawn once and shared by region index across frames (the specimen is
    the same, only the region shapes change), as are the background's random modes.

    Parameters
    ----------
    scenes : sequence of Scene
        One per frame.
    shifts : (n_frames, 2) array_like of float, optional
        Specimen displacement ``(dy, dx)`` in nm of each frame (frame-to-frame drift).
    frame_time : float
        Time between frames in s (> 0): the scale of the navigation axis "t"; scan
        noise time runs on across frames.
    Other parameters
        As :func:`simulate_image`.

    Returns
    -------
    SimulationResult
        ``image`` and ``labels`` of shape ``(n_frames | ny, nx)``; ``positions`` etc.
        are lists with one array per frame.
    """
    scenes = list(scenes)
    if not scenes:
        raise ValueError("scenes must contain at least one Scene")
    for s in scenes:
        if not isinstance(s, Scene):
            raise TypeError(f"scenes must contain Scene objects, got {type(s).__name__}")
        if s.shape != scenes[0].shape or s.pixel_size != scenes[0].pixel_size:
            raise ValueError("all scenes must have the same shape and pixel_size")
    n = len(scenes)
    if shifts is None:
        shifts = np.zeros((n, 2))
    shifts = np.asarray(shifts, dtype=float)
    if shifts.shape != (n, 2) or not np.all(np.isfinite(shifts)):
        raise ValueError(f"shifts must be a finite array of shape ({n}, 2), got {shifts.shape}")
    frame_time = _positive("frame_time", frame_time)
    probe, scale, read_noise, backgrounds = _imaging_setup(
        probe, peak_counts, dose, peak_fraction, scan_noise, background, read_noise
    )
    rng = _rng(random_state)
    first = scenes[0].resolved(rng)
    resolved = []
    for sc in scenes:
        regs = []
        for k, r in enumerate(sc.regions):
            ref = first.regions[k] if k < len(first.regions) else None
            content, origin = r.lattice, r.origin
            if ref is not None and isinstance(content, Lattice) and origin is None:
                origin = ref.origin
            if (ref is not None and isinstance(content, Amorphous) and content.seed is None
                    and isinstance(ref.lattice, Amorphous)):
                content = content.with_seed(ref.lattice.seed)
            regs.append(r._replace(lattice=content, origin=origin)._resolved(rng))
        resolved.append(Scene(sc.shape, sc.pixel_size, regs, sc.min_separation, sc.name))
    backgrounds = [b._prepared(rng) for b in backgrounds]
    frames = [
        _render_frame(sc, probe, backgrounds, scan_noise, scale, read_noise, tuple(sh), k * frame_time, rng)
        for k, (sc, sh) in enumerate(zip(resolved, shifts))
    ]
    counts = np.stack([f.counts for f in frames])
    labels = np.stack([f.labels for f in frames])
    meta = _meta(resolved[0], probe, backgrounds, scan_noise, peak_counts, dose, peak_fraction, read_noise,
                 random_state, {"n_frames": n, "frame_time": frame_time, "shifts": shifts,
                                "frames": {f"frame_{k}": sc.to_dict()["regions"] for k, sc in enumerate(resolved)}})
    quantity = "Counts" if scale is not None else "Intensity (a.u.)"
    image, lab = _make_signals(counts, labels, resolved[0].pixel_size, _title(resolved[0], True, probe._mode), meta,
                               probe, frame_time, quantity)
    return SimulationResult(
        image=image, labels=lab, positions=[f.positions for f in frames],
        column_regions=[f.regions for f in frames], column_intensities=[f.intensities for f in frames],
        column_sites=[f.sites for f in frames], true_positions=[f.true_positions for f in frames],
        noise_free=np.stack([f.expected for f in frames]),
        scan_displacement=np.stack([f.displacement for f in frames]), scene=resolved,
        region_names=resolved[0].region_names,
    )
