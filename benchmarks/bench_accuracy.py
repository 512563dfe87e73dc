"""Segmentation accuracy on forward-model scenes with ground truth.

    python benchmarks/bench_accuracy.py            # the default segmentation (only n_patterns given)
    python benchmarks/bench_accuracy.py --sweep    # also a grid of parameters, to choose the defaults
    python benchmarks/bench_accuracy.py --sweep --grid patch=10,15 window=12,15 stride=4 n_components=5
    python benchmarks/bench_accuracy.py --set stride=2 patch_x=15 patch_y=15   # any parameters
    python benchmarks/bench_accuracy.py --pystem   # pySTEM's configuration, reproduced with this package

Eight 512 x 512 scenes (0.02 nm/px) at four doses: clean (no shot or scan noise,
no background) and 100, 30 and 8 counts at a column peak (with scan jitter and a
background). Scores: pixel accuracy after the best one-to-one matching of labels
(Hungarian) and the adjusted Rand index (ARI).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table  # noqa: E402

DOSES = {"clean": None, "100": 100.0, "30": 30.0, "8": 8.0}

#: pySTEM 0.0.26's defaults expressed in this package's parameters: its shift grid
#: (arange(-21, 22, 5) on both axes, no zero shift), patch 20, stride 5, 5 components,
#: one k-means++ start on every grid point, no descriptors within patch + window of
#: the edges. This package reproduces its descriptors to 1.5e-8
#: (tests/test_descriptors_translation.py), so this runs its method, not its code.
PYSTEM = {
    "descriptor": "preselected_translations",
    "preselected_translations": [[m, n] for m in range(-21, 22, 5) for n in range(-21, 22, 5)],
    "patch_x": 20, "patch_y": 20, "stride": 5, "n_components": 5,
    "n_init": 1, "max_samples": 10**9, "edges": "exclude",
}


def scenes(dose, seed):
    """[(name, SimulationResult, n_patterns)] for one dose (None = clean)."""
    from hyperspy_symseg import simulate as sim

    imaging = {"peak_counts": dose}
    if dose is None:
        imaging.update(scan_noise=None, background=None)
    hexa = sim.Lattice.hexagonal(0.3)
    square = sim.Lattice.square(0.36)
    out = []
    out.append(("grain boundary, straight", sim.two_grain_image(random_state=seed, **imaging), 2))
    curved = sim.Scene(
        (512, 512), 0.02,
        [sim.Region(square.rotated(0.0)), sim.Region(square.rotated(25.0), sim.SinusoidalBoundary(95.0, 0.0, 0.6, 5.0))],
        name="curved grain boundary",
    )
    out.append(("grain boundary, curved", sim.simulate_image(curved, random_state=seed, **_imaging(imaging)), 2))
    out.append(("two phases", sim.two_phase_image(random_state=seed, **imaging), 2))
    out.append((
        "precipitate, same lattice, a x1.25",
        sim.precipitate(matrix=sim.Lattice.square(0.32), particle=sim.Lattice.square(0.40), random_state=seed, **imaging),
        2,
    ))
    out.append(("particle on vacuum", sim.particle_on_vacuum(random_state=seed, **imaging), 2))
    out.append(("crystal next to amorphous", sim.crystal_and_amorphous(random_state=seed, **imaging), 2))
    out.append(("triple junction", sim.triple_junction(random_state=seed, **imaging), 3))
    mixed = sim.Scene(
        (512, 512), 0.02,
        [
            sim.Region(hexa.rotated(5.0), name="grain"),
            sim.Region(sim.Lattice.perovskite_001(0.39), sim.HalfPlane(80.0, 1.0), name="phase"),
            sim.Region(sim.Vacuum(), sim.Ellipse((-3.0, -2.5), (2.2, 1.6), 20.0), name="vacuum"),
        ],
        name="grain + phase + vacuum",
    )
    out.append(("phase + grain + vacuum", sim.simulate_image(mixed, random_state=seed, **_imaging(imaging)), 3))
    return out


def _imaging(overrides):
    from hyperspy_symseg.simulate import _default_imaging

    return _default_imaging(dict(overrides))


def build_suite(seed: int = 0):
    """{dose name: scenes}; each dose uses its own noise seed."""
    return {name: scenes(dose, seed + k) for k, (name, dose) in enumerate(DOSES.items())}


def evaluate(suite, **params):
    """{(scene, dose): (accuracy, ari, seconds)} of the segmentation with ``params``."""
    from hyperspy_symseg import metrics, symmetry_segment

    results = {}
    for dose, items in suite.items():
        for name, result, n_patterns in items:
            start = time.perf_counter()
            labels = symmetry_segment(result.image, n_patterns, random_state=0, show_progressbar=False, **params)
            seconds = time.perf_counter() - start
            results[name, dose] = (
                metrics.matched_accuracy(labels, result.labels),
                metrics.adjusted_rand_index(labels, result.labels),
                seconds,
            )
    return results


def summary(results):
    acc = np.array([v[0] for v in results.values()])
    ari = np.array([v[1] for v in results.values()])
    return acc.mean(), acc.min(), ari.mean(), ari.min()


def print_results(results, title):
    names = list(dict.fromkeys(name for name, _ in results))
    rows = []
    for name in names:
        rows.append([name] + [f"{results[name, d][0]:.3f} / {results[name, d][1]:.2f}" for d in DOSES])
    acc_mean, acc_min, ari_mean, ari_min = summary(results)
    per_dose = [np.array([results[n, d][0] for n in names]) for d in DOSES]
    rows.append(["mean"] + [f"{a.mean():.3f}" for a in per_dose])
    rows.append(["min"] + [f"{a.min():.3f}" for a in per_dose])
    print_table(["scene (accuracy / ARI)"] + [f"{d} counts" if d != "clean" else "clean" for d in DOSES], rows, title)
    seconds = np.median([v[2] for v in results.values()])
    print(f"\nall scenes and doses: accuracy mean {acc_mean:.3f}, min {acc_min:.3f}; "
          f"ARI mean {ari_mean:.3f}, min {ari_min:.3f}; median time per image {seconds:.3f} s")


SWEEP = {
    "patch": [10, 12, 15, 20],
    "window": [10, 12, 15, 20],
    "stride": [4],
    "n_components": [5],
}


def parse_value(text):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sweep", action="store_true", help="also sweep patch, window, stride and n_components")
    parser.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE", help="segmentation parameters")
    parser.add_argument("--pystem", action="store_true", help="start from pySTEM's configuration (see PYSTEM)")
    parser.add_argument("--grid", nargs="*", default=[], metavar="NAME=V1,V2",
                        help="sweep values (patch, window, stride, n_components) replacing the built-in grid")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    params = dict(PYSTEM) if args.pystem else {}
    params.update({k: parse_value(v) for k, v in (item.split("=", 1) for item in args.set)})

    start = time.perf_counter()
    suite = build_suite(args.seed)
    print(f"simulated {sum(len(v) for v in suite.values())} images in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    evaluate({"clean": suite["clean"][:1]})  # compile the kernels
    what = ", ".join(f"{k}={v}" for k, v in params.items() if k != "preselected_translations")
    what = ("pySTEM's configuration" + (f" ({what})" if args.set else "")) if args.pystem else (what or "defaults (only n_patterns given)")
    print_results(evaluate(suite, **params), f"Matched accuracy / ARI, {what}")

    if args.sweep:
        grid = dict(SWEEP)
        grid.update({k: [parse_value(v) for v in vals.split(",")] for k, vals in (g.split("=", 1) for g in args.grid)})
        rows = []
        for patch, window, stride, ncomp in itertools.product(*(grid[k] for k in SWEEP)):
            p = dict(params, patch_x=patch, patch_y=patch, window_x=window, window_y=window, stride=stride, n_components=ncomp)
            res = evaluate(suite, **p)
            acc_mean, acc_min, ari_mean, ari_min = summary(res)
            seconds = np.median([v[2] for v in res.values()])
            rows.append([patch, window, stride, ncomp, f"{acc_mean:.4f}", f"{acc_min:.4f}", f"{ari_mean:.3f}", f"{seconds:.3f}"])
            print(f"  {rows[-1]}", file=sys.stderr)
        rows.sort(key=lambda r: (-float(r[5]), -float(r[4])))
        print_table(["patch", "window", "stride", "n_components", "acc mean", "acc min", "ARI mean", "s/image"], rows,
                    "Parameter sweep (sorted by minimum accuracy)")


if __name__ == "__main__":
    main()
