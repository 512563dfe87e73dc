"""The benchmark suite: forward-model scenes at the samplings and doses of real images.

    python benchmarks/_suite.py            # simulate the full suite, print the cases and the time
    python benchmarks/_suite.py --quick    # periods (4, 15, 40), doses (100, 8)

From a benchmark (as ``bench_accuracy.py`` imports ``_common``)::

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _suite import build_suite
    for case in build_suite(quick=True):
        labels = symmetry_segment(case.result.image, case.n_regions, ...)
        score = metrics.matched_accuracy(labels, case.result.labels)
        case.release()                        # free the images before the next case

Every scene is made at every period (pixels per period of its first lattice:
``pixel_size = lattice.period / period_px``) and every dose. Region geometry is a
fixed fraction of the field of view, so the label image looks the same at every
period (only the lattice sampling changes); lattices, amorphous materials and scan
jitter keep their physical sizes in nm. HAADF cases use the probe of
``simulate.probe_for_lattice`` (Gaussian, FWHM = 0.35 x the smallest
nearest-neighbour column distance of the scene's lattices, so columns stay resolved
at 4 px per period); HRTEM cases use ``simulate.HRTEMTransfer``, whose transfer
function is physical and does not change with the sampling.

Doses
-----
``"clean"``
    Noise-free: no shot noise, no scan noise, no background, except for the cases of
    kind ``"distorted"`` and the wedge control, which keep their strong background and
    scan distortions (they are the point of the case) without shot noise.
a number ``d``
    HAADF: ``d`` expected counts at the peak of an isolated unit column, the default
    imaging of the ready-made scenes (``ScanNoise(sigma=0.01 nm)``, background 0.05 +
    a 0.02 low-frequency field). HRTEM: ``d / contrast**2`` counts per pixel at the
    bright field, which gives an isolated column the same signal-to-noise ratio as
    HAADF at dose ``d`` (contrast 0.1: 100 d; contaminated graphene, contrast 0.05:
    400 d).

All doses of one scene and period share the random seed: the same specimen (lattice
origins, amorphous columns), background and scan distortions; only the shot noise
differs.

Cases (``n_regions`` = patterns of a correct segmentation)
-----------------------------------------------------------
The eight scenes of ``bench_accuracy.scenes()``, rescaled:

==================================  ==========  =========  =====================================================
name                                kind        n_regions  scene
==================================  ==========  =========  =====================================================
grain boundary, straight            grains      2          ``two_grain_image``: hexagonal 0.3 nm, 5 / 27 deg
grain boundary, curved              grains      2          square 0.36 nm, 0 / 25 deg, sinusoidal boundary
two phases                          phases      2          ``two_phase_image``: hexagonal 0.3 / perovskite 0.39
precipitate, same lattice, a x1.25  phases      2          ``precipitate``: square 0.32 matrix, square 0.40
particle on vacuum                  vacuum      2          ``particle_on_vacuum``: hexagonal 0.28 hexagon
crystal next to amorphous           amorphous   2          ``crystal_and_amorphous``: square 0.39 / amorphous
triple junction                     grains      3          ``triple_junction``: square 0.36, 0 / 20 / 40 deg
phase + grain + vacuum              phases      3          hexagonal grain, perovskite phase, elliptical hole
==================================  ==========  =========  =====================================================

and the scenes that real images look like:

==========================================  ===========  =========  ===============================================
name                                        kind         n_regions  scene
==========================================  ===========  =========  ===============================================
single crystal                              control      1          ``single_crystal``: perovskite [001] 0.39 nm
single crystal, wedge + distortions         control      1          hexagonal 0.3, thickness wedge 0.2-1.9,
                                                                    ``distorted_imaging`` (background 0.25,
                                                                    jitter 0.5 px, shear 4 %, stretch 2 %)
two grains, strong background + distortion  distorted    2          ``two_grain_image`` + ``distorted_imaging``
thick particle on vacuum                    vacuum       2          ``nanoparticle``: Au [110], dome thickness,
                                                                    diffuse level 0.5, vacuum ~0.01
thick particle on carbon                    amorphous    2          ``nanoparticle(support="carbon")``
thick particle on holey carbon              amorphous    3          ``nanoparticle(support="holey carbon")``:
                                                                    carbon film with a vacuum hole
interface with intensity step               phases       2          ``phase_interface``: bright / dim phase
HRTEM, two graphene grains                  hrtem        2          ``two_grain_image`` of graphene,
                                                                    ``hrtem_imaging(defocus=-6)`` (dark columns)
HRTEM, crystal and amorphous                hrtem        2          ``crystal_and_amorphous``,
                                                                    ``hrtem_imaging(defocus=+6)`` (bright columns)
graphene with contamination                 contaminant  3          ``contaminated_graphene``: two grains and an
                                                                    amorphous overlay (label = contaminant), HRTEM
==========================================  ===========  =========  ===============================================

The full suite is 18 scenes x 5 periods x 4 doses = 360 cases; ``quick=True`` is
17 x 3 x 2 = 102. ``python benchmarks/_suite.py`` prints the simulation time.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table  # noqa: E402

PERIODS = (4, 8, 15, 25, 40)
DOSES = ("clean", 100, 30, 8)
QUICK_PERIODS = (4, 15, 40)
QUICK_DOSES = (100, 8)
#: Field of view (nm) of the scenes of bench_accuracy.py (512 px at 0.02 nm): lengths of
#: their geometry given in nm are scaled by fov / REFERENCE_FOV.
REFERENCE_FOV = 10.24


@dataclass
class Case:
    """One image of the suite; ``result`` is simulated on first access (then kept until
    :meth:`release`)."""

    name: str
    period_px: float
    dose: Any  # "clean" or counts (float)
    n_regions: int
    kind: str
    seed: int
    factory: Callable[[], Any] = field(repr=False)
    _result: Any = field(default=None, repr=False)

    @property
    def result(self):
        """The :class:`hyperspy_symseg.simulate.SimulationResult` of the case."""
        if self._result is None:
            self._result = self.factory()
        return self._result

    def release(self) -> None:
        """Drop the simulated result (it is made again on the next access)."""
        self._result = None

    @property
    def key(self) -> str:
        return f"{self.name} @ {self.period_px:g} px, {self.dose}"


@dataclass(frozen=True)
class _Scene:
    name: str
    kind: str
    n_regions: int
    lattice: Any  # the first lattice: sets the pixel size
    make: Callable[..., Any]  # make(shape, pixel_size, period_px, imaging, seed) -> SimulationResult
    mode: str = "haadf"  # "haadf", "hrtem" or "distorted"
    contrast: float = 0.1  # HRTEM isolated-column contrast (dose mapping)


def _scenes(shape: tuple[int, int]) -> list[_Scene]:
    from hyperspy_symseg import simulate as sim

    hexa = sim.Lattice.hexagonal(0.3)
    square = sim.Lattice.square(0.36)
    graphene = sim.Lattice.honeycomb(0.246, intensities=(1.0, 1.0))

    def g(px):  # nm-valued geometry of bench_accuracy's scenes, scaled with the field of view
        return min(shape) * px / REFERENCE_FOV

    def explicit(scene, contents, imaging, seed):
        imaging = dict(imaging)
        imaging.setdefault("probe", sim.probe_for_lattice(contents))
        return sim.simulate_image(scene, random_state=seed, **sim._default_imaging(imaging))

    def curved(shape, px, p, imaging, seed):
        scene = sim.Scene(shape, px, [sim.Region(square.rotated(0.0)),
                                      sim.Region(square.rotated(25.0),
                                                 sim.SinusoidalBoundary(95.0, 0.0, 0.6 * g(px), 5.0 * g(px)))],
                          name="curved grain boundary")
        return explicit(scene, [square], imaging, seed)

    def mixed(shape, px, p, imaging, seed):
        perov = sim.Lattice.perovskite_001(0.39)
        scene = sim.Scene(shape, px, [
            sim.Region(hexa.rotated(5.0), name="grain"),
            sim.Region(perov, sim.HalfPlane(80.0, 1.0 * g(px)), name="phase"),
            sim.Region(sim.Vacuum(), sim.Ellipse((-3.0 * g(px), -2.5 * g(px)), (2.2 * g(px), 1.6 * g(px)), 20.0),
                       name="vacuum"),
        ], name="grain + phase + vacuum")
        return explicit(scene, [hexa, perov], imaging, seed)

    def wedge(shape, px, p, imaging, seed):
        fov = min(shape) * px
        lat = hexa.rotated(17.0)
        return sim.single_crystal(shape, lattice=lat, period_px=p, random_state=seed,
                                  thickness=sim.WedgeThickness(angle=30.0, slope=1.4 / fov, level=0.9, minimum=0.2),
                                  **imaging)

    s = [
        _Scene("grain boundary, straight", "grains", 2, hexa,
               lambda shape, px, p, im, seed: sim.two_grain_image(shape, period_px=p, random_state=seed, **im)),
        _Scene("grain boundary, curved", "grains", 2, square, curved),
        _Scene("two phases", "phases", 2, sim.Lattice.hexagonal(0.3, rotation=8.0),
               lambda shape, px, p, im, seed: sim.two_phase_image(
                   shape, period_px=p, amplitude=0.4 * g(px), wavelength=4.0 * g(px), random_state=seed, **im)),
        _Scene("precipitate, same lattice, a x1.25", "phases", 2, sim.Lattice.square(0.32),
               lambda shape, px, p, im, seed: sim.precipitate(
                   shape, matrix=sim.Lattice.square(0.32), particle=sim.Lattice.square(0.40), period_px=p,
                   random_state=seed, **im)),
        _Scene("particle on vacuum", "vacuum", 2, sim.Lattice.hexagonal(0.28, rotation=12.0),
               lambda shape, px, p, im, seed: sim.particle_on_vacuum(shape, period_px=p, random_state=seed, **im)),
        _Scene("crystal next to amorphous", "amorphous", 2, sim.Lattice.square(0.39, rotation=15.0),
               lambda shape, px, p, im, seed: sim.crystal_and_amorphous(
                   shape, period_px=p, amplitude=0.3 * g(px), wavelength=3.0 * g(px), random_state=seed, **im)),
        _Scene("triple junction", "grains", 3, square,
               lambda shape, px, p, im, seed: sim.triple_junction(shape, period_px=p, random_state=seed, **im)),
        _Scene("phase + grain + vacuum", "phases", 3, hexa, mixed),
        # -- scenes that real images look like ----------------------------------------------------
        _Scene("single crystal", "control", 1, sim.Lattice.perovskite_001(0.39, rotation=8.0),
               lambda shape, px, p, im, seed: sim.single_crystal(shape, period_px=p, random_state=seed, **im)),
        _Scene("single crystal, wedge + distortions", "control", 1, hexa, wedge, mode="distorted"),
        _Scene("two grains, strong background + distortion", "distorted", 2, hexa,
               lambda shape, px, p, im, seed: sim.two_grain_image(shape, period_px=p, random_state=seed, **im),
               mode="distorted"),
        _Scene("thick particle on vacuum", "vacuum", 2, sim.Lattice.centred_rectangular(0.408, 0.2885, rotation=20.0),
               lambda shape, px, p, im, seed: sim.nanoparticle(shape, period_px=p, random_state=seed, **im)),
        _Scene("thick particle on carbon", "amorphous", 2,
               sim.Lattice.centred_rectangular(0.408, 0.2885, rotation=20.0),
               lambda shape, px, p, im, seed: sim.nanoparticle(shape, period_px=p, support="carbon",
                                                               random_state=seed, **im)),
        _Scene("thick particle on holey carbon", "amorphous", 3,
               sim.Lattice.centred_rectangular(0.408, 0.2885, rotation=20.0),
               lambda shape, px, p, im, seed: sim.nanoparticle(shape, period_px=p, support="holey carbon",
                                                               random_state=seed, **im)),
        _Scene("interface with intensity step", "phases", 2, sim.Lattice.hexagonal(0.3),
               lambda shape, px, p, im, seed: sim.phase_interface(shape, period_px=p, random_state=seed, **im)),
        _Scene("HRTEM, two graphene grains", "hrtem", 2, graphene,
               lambda shape, px, p, im, seed: sim.two_grain_image(
                   shape, lattice=graphene, rotations=(3.0, 21.0), period_px=p, random_state=seed,
                   **sim.hrtem_imaging(shape, px, defocus=-6.0, contrast=0.1, **im)),
               mode="hrtem", contrast=0.1),
        _Scene("HRTEM, crystal and amorphous", "hrtem", 2, sim.Lattice.square(0.39, rotation=15.0),
               lambda shape, px, p, im, seed: sim.crystal_and_amorphous(
                   shape, period_px=p, amplitude=0.3 * g(px), wavelength=3.0 * g(px), random_state=seed,
                   **sim.hrtem_imaging(shape, px, defocus=6.0, contrast=0.1, **im)),
               mode="hrtem", contrast=0.1),
        _Scene("graphene with contamination", "contaminant", 3, graphene,
               lambda shape, px, p, im, seed: sim.contaminated_graphene(shape, period_px=p, random_state=seed, **im),
               mode="hrtem", contrast=0.05),
    ]
    return s


def _imaging(scene: _Scene, dose: Any, shape: tuple[int, int], pixel_size: float) -> dict:
    """Imaging overrides of one case (see the module docstring, Doses)."""
    from hyperspy_symseg import simulate as sim

    clean = isinstance(dose, str)
    if scene.mode == "hrtem":
        return {"peak_counts": None, "background": None} if clean else {"peak_counts": float(dose) / scene.contrast**2}
    if scene.mode == "distorted":
        im = sim.distorted_imaging(shape, pixel_size)
        im["peak_counts"] = None if clean else float(dose)
        return im
    if clean:
        return {"peak_counts": None, "scan_noise": None, "background": None}
    return {"peak_counts": float(dose)}


def _check_doses(doses: Sequence[Any]) -> list[Any]:
    out = []
    for d in doses:
        if isinstance(d, str):
            if d != "clean":
                raise ValueError(f"doses must be 'clean' or numbers > 0, got {d!r}")
            out.append("clean")
        else:
            d = float(d)
            if not d > 0:
                raise ValueError(f"doses must be 'clean' or numbers > 0, got {d!r}")
            out.append(int(d) if d.is_integer() else d)
    return out


def build_suite(
    periods: Sequence[float] = PERIODS,
    doses: Sequence[Any] = DOSES,
    seed: int = 0,
    shape: tuple[int, int] = (512, 512),
    *,
    quick: bool = False,
    kinds: Sequence[str] | None = None,
    lazy: bool = True,
) -> list[Case]:
    """The list of cases: every scene at every period and dose (see the module docstring).

    Parameters
    ----------
    periods : sequence of float
        Pixels per period of each scene's first lattice.
    doses : sequence of "clean" or float
        See the module docstring.
    seed : int
        Base seed; each (scene, period) gets its own seed from it and the period's value
        (not its place in ``periods``), shared by the doses: a run over some periods or
        kinds simulates the same specimens as the full suite.
    shape : (int, int)
        Image shape.
    quick : bool
        Use periods (4, 15, 40) and doses (100, 8) instead of ``periods`` and ``doses``.
    kinds : sequence of str, optional
        Keep only the cases of these kinds ("grains", "phases", "vacuum", "amorphous",
        "control", "distorted", "hrtem", "contaminant").
    lazy : bool
        True: each case is simulated when its ``result`` is first read (and kept until
        ``case.release()``), so a loop over the full suite holds one image at a time.
        False: simulate every case now (~4 MB per 512 x 512 case).

    Returns
    -------
    list of Case
        Ordered by scene, period, dose.
    """
    from hyperspy_symseg import simulate as sim

    if quick:
        periods, doses = QUICK_PERIODS, QUICK_DOSES
    periods = [float(p) for p in periods]
    if not periods or min(periods) <= 0:
        raise ValueError(f"periods must be numbers > 0, got {periods}")
    doses = _check_doses(doses)
    shape = tuple(int(n) for n in shape)
    scenes = _scenes(shape)
    if kinds is not None:
        known = {s.kind for s in scenes}
        bad = set(kinds) - known
        if bad:
            raise ValueError(f"kinds must be among {sorted(known)}, got {sorted(bad)}")
    cases = []
    for i, scene in enumerate(scenes):
        if kinds is not None and scene.kind not in set(kinds):
            continue
        for period in periods:
            key = int(round(period * 1000))  # the period in milli-px: the same case in every subset
            case_seed = int(np.random.SeedSequence([int(seed), i, key]).generate_state(1)[0])
            px = sim.pixel_size_for_period(scene.lattice, period)
            for dose in doses:
                imaging = _imaging(scene, dose, shape, px)

                def factory(scene=scene, px=px, period=period, imaging=imaging, case_seed=case_seed):
                    return scene.make(shape, px, period, dict(imaging), case_seed)

                cases.append(Case(scene.name, period, dose, scene.n_regions, scene.kind, case_seed, factory))
    if not lazy:
        for case in cases:
            case.result  # noqa: B018 - simulate now
    return cases


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="periods (4, 15, 40), doses (100, 8)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=int, default=512, help="image side in pixels")
    args = parser.parse_args(argv)
    cases = build_suite(seed=args.seed, shape=(args.size, args.size), quick=args.quick)
    per_scene: dict[str, list] = {}
    start = time.perf_counter()
    for case in cases:
        t0 = time.perf_counter()
        res = case.result
        dt = time.perf_counter() - t0
        row = per_scene.setdefault(case.name, [case.kind, case.n_regions, 0.0, 0, set()])
        row[2] += dt
        row[3] += 1
        row[4].add(int(res.labels.data.max()) + 1)
        case.release()
    total = time.perf_counter() - start
    rows = [[name, kind, n, "/".join(str(k) for k in sorted(found)), count, f"{seconds:.1f}"]
            for name, (kind, n, seconds, count, found) in per_scene.items()]
    print_table(["scene", "kind", "n_regions", "labels found", "cases", "seconds"], rows,
                f"Benchmark suite, {args.size} x {args.size} px, {len(cases)} cases "
                f"({'quick' if args.quick else 'full'}), fresh process, simulated one at a time")
    print(f"\ntotal {total:.1f} s for {len(cases)} cases ({total / len(cases):.2f} s per case)")


if __name__ == "__main__":
    main()
