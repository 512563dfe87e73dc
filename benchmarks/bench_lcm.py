"""Speed and memory of the translation-descriptor pipeline on a 1024 x 1024 image.

    python benchmarks/bench_lcm.py [--repeat 3] [--strides 1 2 4 8] [--methods direct fft]

Uses ../shared/data/real/pystem_high_entropy_alloy.npy when present (the authors'
example, where their timings were measured), else a simulated 1024 x 1024 image.
The authors' defaults: patch 20, window 21, at most 100 shifts (81 here: -20..20
in steps of 5), 5 PCA components, 2 patterns, pySTEM's edge handling
(edges="exclude", the same descriptor grid as theirs). Times are the median and the
minimum of --repeat runs after a warm-up (JIT compilation excluded), whole pipeline
from the signal to the label image; "descriptors" and "PCA+k-means" are medians of
those steps. Peak memory is the RSS rise during one run, also given as a multiple of
the descriptor array. The machine is shared: the minimum is the least disturbed run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED_DATA, PeakMemory, print_table, run_times  # noqa: E402

# The authors' code (pySTEM, C + OpenMP direct, FFTW fft), same image and defaults,
# 2 threads on a 2-core machine: ../shared/data/pystem_reference/README.md
PYSTEM_SECONDS = {("direct", 8): 1.56, ("fft", 8): 1.28, ("direct", 4): 4.92, ("fft", 4): 4.15,
                  ("direct", 2): 18.5, ("fft", 2): 15.2, ("direct", 1): 76.0, ("fft", 1): 57.9}


def _ratio(x: float) -> str:
    return f"{x:.0f}x" if x >= 10 else f"{x:.1f}x"


def load_image():
    import hyperspy.api as hs

    path = SHARED_DATA / "real" / "pystem_high_entropy_alloy.npy"
    if path.exists():
        data, source = np.load(path).astype(np.float32), path.name
    else:
        from hyperspy_symseg import simulate

        data, source = simulate.two_grain_image(shape=(1024, 1024), random_state=0).image.data, "simulated two-grain image"
    s = hs.signals.Signal2D(data)
    s.set_signal_type("atomic_resolution")
    return s, source


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--strides", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--methods", nargs="+", default=["direct", "fft"])
    parser.add_argument("--fft-repeat", type=int, default=1, help="repeats for the (slow) fft method at strides 1 and 2")
    args = parser.parse_args(argv)

    import hyperspy_symseg

    signal, source = load_image()
    # pySTEM's defaults, and like pySTEM no lattice background and no extra channels (so no lattice analysis).
    params = dict(patch_x=20, patch_y=20, window_x=21, window_y=21, max_num_points=100, n_components=5,
                  edges="exclude", random_state=0, show_progressbar=False, background=None, intensity_features=False)
    hyperspy_symseg.symmetry_segmentation(signal.isig[:256, :256], 2, stride=4, **params)  # compile
    hyperspy_symseg.symmetry_segmentation(signal.isig[:256, :256], 2, stride=4, method="fft", **params)

    rows = []
    for method in args.methods:
        for stride in sorted(args.strides, reverse=True):
            repeat = args.fft_repeat if method == "fft" and stride <= 2 else args.repeat
            runs = []

            def run():
                runs.append(hyperspy_symseg.symmetry_segmentation(signal, 2, stride=stride, method=method, **params))
                return runs[-1]

            times, seg = run_times(run, repeat)
            total = float(np.median(times))
            with PeakMemory() as mem:
                run()
            t = {k: float(np.median([r.timings[k] for r in runs])) for k in seg.timings}
            desc_bytes = seg.descriptors.data.nbytes
            reference = PYSTEM_SECONDS.get((method, stride))
            rows.append([
                method, stride, "x".join(map(str, seg.descriptors.data.shape)),
                f"{t['descriptors']:.3f}", f"{t['reduction'] + t['clustering']:.3f}", f"{total:.3f}", f"{min(times):.3f}",
                f"{mem.peak / 2**20:.0f}", f"{mem.peak / desc_bytes:.2f}",
                f"{reference:.2f}" if reference else "-", _ratio(reference / total) if reference else "-",
            ])
            print(f"  {method} stride {stride}: {total:.3f} s", file=sys.stderr)
    print_table(
        ["method", "stride", "descriptor grid", "descriptors s", "PCA+k-means s", "total s", "min s",
         "peak MiB", "peak / descriptors", "pySTEM total s", "speed-up"],
        rows,
        title=f"Local correlation map, {source}, {signal.data.shape[1]}x{signal.data.shape[0]}, 81 shifts, "
        f"patch 20, 5 components, 2 patterns; median and minimum of {args.repeat} runs "
        f"({args.fft_repeat} for fft at strides 1-2)",
    )


if __name__ == "__main__":
    main()
