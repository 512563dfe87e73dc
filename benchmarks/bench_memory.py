"""Peak memory of segmenting one large lazy image (fit and labels), against the eager route.

    python benchmarks/bench_memory.py [--sizes 3000 6000] [--chunks 1000] [--stride 4] [--eager]

Each run is a fresh Python process. The image is a simulated two-grain lattice built
chunk by chunk by dask (``map_blocks``), so it never exists whole in memory unless the
pipeline loads it. The lazy route is ``symmetry_segmentation(lazy_image, 2)`` followed by
storing the lazy labels chunk by chunk into a preallocated uint8 array (the output, 1 byte
per pixel, counted in the peak). ``--eager`` adds the same image computed into memory and
segmented eagerly. Peak RSS is the process's maximum resident set (``ru_maxrss``);
"baseline" is the RSS after the imports and a warm-up on a 256 x 256 image (kernels
compiled or loaded from numba's cache), so "peak - baseline" is what the segmentation adds.
Times are warm (kernels compiled), wall clock, on a shared 2-core machine.

    python benchmarks/bench_memory.py --steps [--strides 8 4 1]

Where the resident set of a fresh eager run comes from (pySTEM's defaults on
``../shared/data/real/pystem_high_entropy_alloy.npy``, as ``bench_lcm.py --fresh``): the
RSS after ``import hyperspy.api``, after ``import numba``, after ``import hyperspy_symseg``
(which sets up numba's compiler: its first cached kernel), after the image signal, and
the peak of the run. One fresh process per stride.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

_CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {root!r})
import numpy as np, dask.array as da
import hyperspy.api as hs
import hyperspy_symseg as ss

size, chunks, stride, route = {size}, {chunks}, {stride}, {route!r}

def lattice_block(block_info=None):
    (y0, y1), (x0, x1) = block_info[None]["array-location"]
    y, x = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    t = np.deg2rad(np.where(x < size // 2, 0.0, 30.0))
    u = np.cos(t) * x + np.sin(t) * y
    v = -np.sin(t) * x + np.cos(t) * y
    rng = np.random.default_rng(y0 * 7919 + x0)
    img = (1 + np.cos(2 * np.pi * u / 7.0)) * (1 + np.cos(2 * np.pi * v / 7.0)) + 0.2 * rng.normal(size=u.shape)
    return img.astype(np.float32)

def rss():
    with open("/proc/self/statm") as f:
        import os
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

warm = hs.signals.Signal2D(da.map_blocks(lattice_block, chunks=((256,), (256,)), dtype=np.float32).compute())
ss.symmetry_segmentation(warm, 2, stride=stride, random_state=0, show_progressbar=False)
ss.symmetry_segmentation(warm.as_lazy(), 2, stride=stride, random_state=0, show_progressbar=False).labels.data.compute()
baseline = rss()
data = da.map_blocks(lattice_block, chunks=((chunks,) * (size // chunks), (chunks,) * (size // chunks)), dtype=np.float32)
start = time.perf_counter()
if route == "lazy":
    s = hs.signals.Signal2D(data).as_lazy()
    seg = ss.symmetry_segmentation(s, 2, stride=stride, random_state=0, show_progressbar=False)
    fit = time.perf_counter() - start
    out = np.empty((size, size), dtype=np.uint8)
    da.store(seg.labels.data, out)
else:
    s = hs.signals.Signal2D(data.compute())
    seg = ss.symmetry_segmentation(s, 2, stride=stride, random_state=0, show_progressbar=False)
    fit = time.perf_counter() - start
    out = seg.labels.data
total = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
fractions = np.bincount(out.ravel(), minlength=2) / out.size
print(json.dumps(dict(baseline=baseline, peak=peak, fit=fit, total=total,
                      fit_points=int(np.asarray(seg.grid_labels).size), fractions=fractions.tolist())))
"""


_STEPS_CHILD = r"""
import json, os, resource, sys
sys.path.insert(0, {root!r})

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

out = {{}}
import numpy as np
import hyperspy.api as hs
out["import hyperspy.api"] = rss()
import numba
out["import numba"] = rss()
import hyperspy_symseg as ss
out["import hyperspy_symseg"] = rss()
s = hs.signals.Signal2D(np.load({image!r}).astype(np.float32))
s.set_signal_type("atomic_resolution")
out["image signal"] = rss()
seg = ss.symmetry_segmentation(s, 2, stride={stride}, patch_x=20, patch_y=20, window_x=21, window_y=21,
                               max_num_points=100, n_components=5, edges="exclude", random_state=0,
                               show_progressbar=False, background=None, intensity_features=False)
out["after the run"] = rss()
out["peak of the run"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps(out))
"""


def steps_main(strides) -> None:
    image = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "pystem_high_entropy_alloy.npy"
    if not image.exists():
        print(f"{image} is missing: --steps measures the authors' example image only.", file=sys.stderr)
        return
    columns = {}
    for stride in strides:
        code = _STEPS_CHILD.format(root=str(ROOT), image=str(image), stride=stride)
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(result.stderr[-3000:])
        columns[stride] = json.loads(result.stdout.strip().splitlines()[-1])
    names = list(next(iter(columns.values())))
    rows = [[name] + [f"{columns[s][name] / 2**20:.0f}" for s in strides] for name in names]
    print_table(["RSS after (MiB)"] + [f"stride {s}" for s in strides], rows,
                title="Resident set of a fresh eager run, pySTEM's defaults (direct, edges='exclude'), one process per stride")


def run(size: int, chunks: int, stride: int, route: str) -> dict:
    code = _CHILD.format(root=str(ROOT), size=size, chunks=chunks, stride=stride, route=route)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[3000, 6000])
    parser.add_argument("--chunks", type=int, default=1000)
    parser.add_argument("--stride", type=int, default=4)
    parser.add_argument("--eager", action="store_true", help="also run the eager route for comparison")
    parser.add_argument("--steps", action="store_true", help="RSS step by step of a fresh eager run (see above)")
    parser.add_argument("--strides", type=int, nargs="+", default=[8, 4, 1], help="--steps: the strides")
    args = parser.parse_args(argv)
    if args.steps:
        return steps_main(args.strides)
    rows = []
    routes = ["lazy", "eager"] if args.eager else ["lazy"]
    for size in args.sizes:
        for route in routes:
            r = run(size, args.chunks, args.stride, route)
            mib = 2**20
            rows.append([
                f"{size}x{size}", route, args.chunks if route == "lazy" else "-", f"{size * size * 4 / mib:.0f}",
                r["fit_points"], f"{r['baseline'] / mib:.0f}", f"{r['peak'] / mib:.0f}",
                f"{(r['peak'] - r['baseline']) / mib:.0f}", f"{r['fit']:.1f}", f"{r['total']:.1f}",
                " / ".join(f"{f:.3f}" for f in r["fractions"]),
            ])
            print(f"  {size} {route}: peak {r['peak'] / mib:.0f} MiB", file=sys.stderr)
    print_table(
        ["image", "route", "chunks", "image MiB (float32)", "grid points fitted", "baseline MiB", "peak RSS MiB",
         "peak - baseline MiB", "fit s", "total s", "pattern fractions"],
        rows,
        title=f"Peak memory of symmetry_segmentation on one large image, stride {args.stride}, local_correlation_map "
        "defaults, 2 patterns; fresh process per row, warm kernels",
    )


if __name__ == "__main__":
    main()
