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

    python benchmarks/bench_lcm.py --bandwidth [--repeat 5] [--strides 1] [--methods direct]

This machine's memory bandwidth (STREAM-like read, write, copy and triad on arrays 4x the
L3 cache, 1 and 2 threads, benchmarks/_bandwidth.py), measured before and after warm runs
of the pipeline at stride 1; then, per step, the bytes it must at least read and write and
those the code moves (from the arrays' actual shapes and dtypes), the time they take at
that bandwidth, and the measured time: how far each step is from the bandwidth limit.

    python benchmarks/bench_lcm.py --fresh [--repeat 3] [--warm-repeat 3] [--strides ...] [--methods ...]

The cost as a script pays it: every run is a new Python process that does
``import hyperspy.api``, ``import hyperspy_symseg``, loads the image (np.load, Signal2D,
``set_signal_type``), runs ``symmetry_segmentation`` and takes the labels out. "fresh s"
is the median over --repeat processes of the time from the image load to the labels
(after both imports, which are reported apart), HyperSpy's first ``Signal2D`` (its lazy
imports of hyperspy.signal, io, axes: a cost of any HyperSpy script) included and also
given apart; "+ import s" adds ``import
hyperspy_symseg`` (the whole cost after ``import hyperspy.api``). "warm s" is the median
of --warm-repeat more runs in the same processes. Peak RSS is the child's maximum resident
set after its fresh run (Python, HyperSpy and every import included). The automatic
stage (``n_patterns="auto"``, automatic patch/window/stride, the default background and
intensity features) runs on the same image as rows of its own. A second table gives the
import times, one ``symseg segment FILE`` wall time (default options) and the peak RSS
against pySTEM's.

    python benchmarks/bench_lcm.py --fresh --baseline OTHER_CHECKOUT [--repeat 5] [--warm-repeat 2] [--strides 8 4]

Side by side: the same fresh-process runs of this checkout and of another one (e.g. a
copy of an older commit: ``git archive COMMIT | tar -x -C /tmp/old``), alternating the
two for every repeat so that a change of the machine's load hits both; medians, and the
CPU time (user + system, all threads) that other processes disturb less; the peak RSS of the
fresh runs (the largest over the processes) in MiB and in MB. Every method's numba cache is
filled by a first process of each checkout, so no run compiles.

    python benchmarks/bench_lcm.py --fresh --breakdown [--repeat 5] [--strides 8 4]

Where a fresh process's extra time goes (fresh run minus the warm run in the same
process), measured inside --repeat fresh processes: HyperSpy's first ``Signal2D`` and
``set_signal_type``, HyperSpy's first ``Signal1D`` (the descriptor signal), the first call
of every numba kernel (its load from numba's cache; a call that waited for another
thread's load of the same kernel counts as waiting), threadpoolctl's import and BLAS
controller, and the remainder; medians in ms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))  # this checkout's package, not an installed copy
from _common import SHARED_DATA, PeakMemory, print_table, run_times  # noqa: E402

# The authors' code (pySTEM, C + OpenMP direct, FFTW fft), same image and defaults,
# 2 threads on a 2-core machine: ../shared/data/pystem_reference/README.md
PYSTEM_SECONDS = {("direct", 8): 1.56, ("fft", 8): 1.28, ("direct", 4): 4.92, ("fft", 4): 4.15,
                  ("direct", 2): 18.5, ("fft", 2): 15.2, ("direct", 1): 76.0, ("fft", 1): 57.9}
# The same code and image, each run a fresh process after its imports, 2 threads, median of 3
# (issue 12 of this project; measured with pySTEM 0.0.26 built from source).
PYSTEM_FRESH_SECONDS = {("direct", 1): 81.8, ("direct", 2): 20.3, ("direct", 4): 5.79, ("direct", 8): 1.76,
                        ("fft", 1): 85.8, ("fft", 2): 21.0, ("fft", 4): 5.42, ("fft", 8): 1.81}
# pySTEM's peak RSS in a fresh process (issue 12), stride 1 and 8, direct, as the issue gives them (MB).
PYSTEM_PEAK_MB = {1: 591, 8: 222}
#: pySTEM's defaults, and like pySTEM no lattice background and no extra channels (so no lattice analysis).
PYSTEM_PARAMS = dict(patch_x=20, patch_y=20, window_x=21, window_y=21, max_num_points=100, n_components=5,
                     edges="exclude", random_state=0, show_progressbar=False, background=None,
                     intensity_features=False)
IMAGE = SHARED_DATA / "real" / "pystem_high_entropy_alloy.npy"


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
    parser.add_argument("--strides", type=int, nargs="+", default=None, help="default 1 2 4 8 (--bandwidth: 1)")
    parser.add_argument("--methods", nargs="+", default=None, help="default direct fft (--bandwidth: direct)")
    parser.add_argument("--bandwidth", action="store_true",
                        help="this machine's memory bandwidth and the bytes of every step, warm (see above)")
    parser.add_argument("--fft-repeat", type=int, default=None,
                        help="repeats for the fft method at strides 1 and 2 (default: --repeat; it takes 1-3 s now)")
    parser.add_argument("--fresh", action="store_true", help="each run in a new process (see above)")
    parser.add_argument("--warm-repeat", type=int, default=3, help="--fresh: warm runs after the fresh one in each process")
    parser.add_argument("--no-auto", action="store_true", help="--fresh: leave out the automatic-stage rows")
    parser.add_argument("--baseline", help="--fresh: another checkout to measure side by side with this one")
    parser.add_argument("--breakdown", action="store_true", help="--fresh: where fresh minus warm goes (see above)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.fft_repeat is None:
        args.fft_repeat = args.repeat
    if args.strides is None:
        args.strides = [1] if args.bandwidth else [1, 2, 4, 8]
    if args.methods is None:
        args.methods = ["direct"] if args.bandwidth else ["direct", "fft"]
    if args.bandwidth:
        return bandwidth_main(args)
    if args.child:
        return _child(json.loads(args.child))
    if args.fresh and args.breakdown:
        return breakdown_main(args)
    if args.fresh and args.baseline:
        return compare_main(args)
    if args.fresh:
        return fresh_main(args)

    import hyperspy_symseg

    signal, source = load_image()
    # pySTEM's defaults, and like pySTEM no lattice background and no extra channels (so no lattice analysis).
    params = PYSTEM_PARAMS
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


# ----------------------------------------------------------------------------- --bandwidth


def bandwidth_main(args) -> None:
    """Memory bandwidth (before and after the runs), the bytes of every step, and how far each step is from them."""
    import hyperspy_symseg
    from _bandwidth import STREAM_ELEMENTS, measure_bandwidth, step_bytes

    from hyperspy_symseg.descriptors import translation

    signal, source = load_image()
    hyperspy_symseg.symmetry_segmentation(signal.isig[:256, :256], 2, stride=4, **PYSTEM_PARAMS)  # compile
    before = measure_bandwidth()
    runs = {}
    for method in args.methods:
        for stride in sorted(args.strides, reverse=True):
            hyperspy_symseg.symmetry_segmentation(signal, 2, stride=stride, method=method, **PYSTEM_PARAMS)  # warm
            times, segs = [], []
            for _ in range(args.repeat):
                clock = time.perf_counter()
                segs.append(hyperspy_symseg.symmetry_segmentation(signal, 2, stride=stride, method=method,
                                                                  **PYSTEM_PARAMS))
                times.append(time.perf_counter() - clock)
            runs[method, stride] = times, segs
            print(f"  {method} stride {stride}: {_median(times):.3f} s", file=sys.stderr)
    after = measure_bandwidth()
    print_table(
        ["kernel", "threads", "MB moved", "best ms (before)", "GB/s before", "GB/s after"],
        [[b["kernel"], b["threads"], f"{b['bytes'] / 1e6:.0f}", f"{b['seconds'] * 1e3:.1f}", f"{b['gbs']:.1f}",
          f"{a['gbs']:.1f}"] for b, a in zip(before, after)],
        title=f"Memory bandwidth, STREAM-like, float64 arrays of {STREAM_ELEMENTS * 8 / 2**20:.0f} MiB (3 of them), "
        f"best of 20 rounds, measured before and after the pipeline runs (load average "
        f"{' / '.join(f'{x:.1f}' for x in os.getloadavg())} after); GB = 1e9 bytes",
    )
    # The limit: the best read and fill seen, on any number of threads (the pipeline runs on all of
    # them, but on a shared machine a 2-thread run may have one core only).
    read_bw = max(r["gbs"] for r in before + after if r["kernel"] == "read (sum)") * 1e9
    write_bw = max(r["gbs"] for r in before + after if r["kernel"] == "write (fill)") * 1e9
    image = np.asarray(signal.data)
    for (method, stride), (times, segs) in runs.items():
        seg = segs[-1]
        spec = seg.descriptor
        grid = spec.grid(image.shape, stride)
        steps = step_bytes(image, seg, translation._prelude(image, spec.shifts, spec.patch_y, spec.patch_x, grid, None))
        keys = {"descriptors": "descriptors", "reduction (PCA)": "reduction", "clustering (k-means)": "clustering",
                "labels": "labels"}
        rows, totals = [], np.zeros(5)
        for st in steps:
            measured = _median([r.timings[keys[st["step"]]] for r in segs])
            bound = st["min_read"] / read_bw + st["min_written"] / write_bw
            coded = st["code_read"] / read_bw + st["code_written"] / write_bw
            totals += [st["min_read"] + st["min_written"], bound, st["code_read"] + st["code_written"], coded, measured]
            rows.append([st["step"], f"{st['min_read'] / 1e6:.1f}", f"{st['min_written'] / 1e6:.1f}",
                         f"{bound * 1e3:.1f}", f"{st['code_read'] / 1e6:.1f}", f"{st['code_written'] / 1e6:.1f}",
                         f"{coded * 1e3:.1f}", f"{measured * 1e3:.1f}", f"{measured / bound:.1f}x",
                         f"{measured / coded:.1f}x",
                         f"{(st['code_read'] + st['code_written']) / measured / 1e9:.2f}"])
        rows.append(["sum of the steps", f"{totals[0] / 1e6:.1f} (read + written)", "", f"{totals[1] * 1e3:.1f}",
                     f"{totals[2] / 1e6:.1f} (read + written)", "", f"{totals[3] * 1e3:.1f}", f"{totals[4] * 1e3:.1f}",
                     f"{totals[4] / totals[1]:.1f}x", f"{totals[4] / totals[3]:.1f}x",
                     f"{totals[2] / totals[4] / 1e9:.2f}"])
        whole = _median(times)
        rows.append(["whole pipeline (signal in, labels out)", "", "", f"{totals[1] * 1e3:.1f}", "", "",
                     f"{totals[3] * 1e3:.1f}", f"{whole * 1e3:.1f}", f"{whole / totals[1]:.1f}x",
                     f"{whole / totals[3]:.1f}x", f"{totals[2] / whole / 1e9:.2f}"])
        print_table(
            ["step", "must read MB", "must write MB", "at bandwidth ms", "as coded: read MB", "written MB",
             "at bandwidth ms", "measured warm ms", "measured / must", "measured / as coded",
             "as coded GB/s achieved"],
            rows,
            title=f"Bytes and the bandwidth limit, {method}, stride {stride}, {source} "
            f"{image.shape[1]}x{image.shape[0]} {image.dtype}, pySTEM's defaults; time at bandwidth = bytes read / "
            f"{read_bw / 1e9:.1f} GB/s + bytes written / {write_bw / 1e9:.1f} GB/s (the best read and fill above, "
            f"any thread count); measured: median of {len(times)} warm runs in this process",
        )
        print_table(["step", "what the bytes are"], [[st["step"], st["notes"]] for st in steps],
                    title=f"Where the bytes come from ({method}, stride {stride})")


# ----------------------------------------------------------------------------- --fresh


def _child(job: dict) -> None:
    """One fresh process: imports, then the pipeline once (fresh) and ``warm`` times more; JSON on stdout."""
    import resource

    if job["kind"] == "breakdown":
        return _breakdown_child(job)
    if job["kind"] == "import":  # only the imports, in the order asked
        times = {}
        for name in job["modules"]:
            start = time.perf_counter()
            __import__(name)
            times[name] = time.perf_counter() - start
        print(json.dumps(times))
        return
    start = time.perf_counter()
    import hyperspy.api as hs

    clock = time.perf_counter()
    import_hs = clock - start
    cpu_start = resource.getrusage(resource.RUSAGE_SELF)
    import hyperspy_symseg

    import_symseg = time.perf_counter() - clock
    cpu_end = resource.getrusage(resource.RUSAGE_SELF)
    import_cpu = cpu_end.ru_utime + cpu_end.ru_stime - cpu_start.ru_utime - cpu_start.ru_stime
    if job["kind"] in ("auto", "columns"):  # the automatic stage: every size and the number of patterns from the image
        kwargs = dict(n_patterns="auto", random_state=0, show_progressbar=False)
    else:
        kwargs = dict(PYSTEM_PARAMS, n_patterns=2, stride=job["stride"], method=job["method"])

    signal_times = []  # HyperSpy's part: the first Signal2D of a process imports hyperspy.signal, io, axes...
    n_columns = []

    def run(data=None):
        if data is None:
            data = np.load(IMAGE).astype(np.float32)
        clock = time.perf_counter()
        s = hs.signals.Signal2D(data)
        s.set_signal_type("atomic_resolution")
        signal_times.append(time.perf_counter() - clock)
        seg = hyperspy_symseg.symmetry_segmentation(s, **kwargs)
        if job["kind"] == "columns":  # and the atom columns found and refined in it
            columns = s.find_atom_columns(segmentation=seg)
            n_columns.append(len(columns.table))
        return data, seg, np.asarray(seg.labels.data)

    def cpu():  # user + system time of every thread of this process
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    clock, cpu_clock = time.perf_counter(), cpu()
    data, seg, labels = run()
    fresh, fresh_cpu = time.perf_counter() - clock, cpu() - cpu_clock
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    out = {"import_hs": import_hs, "import_symseg": import_symseg, "import_cpu": import_cpu, "fresh": fresh, "fresh_cpu": fresh_cpu, "peak": peak,
           "fresh_descriptors": seg.timings["descriptors"], "grid": list(seg.descriptors.data.shape),
           "stride": seg.parameters["stride"], "n_patterns": seg.n_patterns, "warm": [], "warm_descriptors": [],
           "fresh_signal": signal_times[0], "n_columns": n_columns[0] if n_columns else None}
    for _ in range(job["warm"]):
        clock = time.perf_counter()
        _, seg, again = run(data)
        out["warm"].append(time.perf_counter() - clock)
        out["warm_descriptors"].append(seg.timings["descriptors"])
        if not np.array_equal(again, labels):
            out["warm_labels_differ"] = True
    print(json.dumps(out))


def _breakdown_child(job: dict) -> None:
    """One fresh process: the parts of its first segmentation that a warm one does not pay (ms)."""
    import threading

    import hyperspy.api as hs

    import hyperspy_symseg
    from hyperspy_symseg import _signal_utils, _threading
    from numba.core import dispatcher

    parts, kernels, lock = {}, {}, threading.Lock()
    first_call = dispatcher.Dispatcher._compile_for_args

    def timed_first_call(self, *args, **kwargs):  # numba calls it when no loaded overload fits the arguments
        start = time.perf_counter()
        waited = bool(self.overloads)  # another thread is loading it (or has)
        try:
            return first_call(self, *args, **kwargs)
        finally:
            with lock:
                name = self.py_func.__name__
                load, wait = kernels.get(name, (0.0, 0.0))
                took = time.perf_counter() - start
                kernels[name] = (load, wait + took) if waited or (name in kernels and load) else (load + took, wait)

    def timed(module, name, key):
        original = getattr(module, name)

        def call(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                parts.setdefault(key, time.perf_counter() - start)  # the first call only

        setattr(module, name, call)

    dispatcher.Dispatcher._compile_for_args = timed_first_call
    timed(_threading, "_blas_controller", "threadpoolctl import + BLAS controller")
    import hyperspy_symseg._pipeline as pipeline

    timed(pipeline, "_descriptor_signal", "descriptor signal (HyperSpy's first Signal1D)")
    kwargs = dict(PYSTEM_PARAMS, n_patterns=2, stride=job["stride"], method=job["method"])
    data = np.load(IMAGE).astype(np.float32)
    runs = []
    for i in range(2):
        parts_before = dict(parts)
        clock = time.perf_counter()
        s = hs.signals.Signal2D(data)
        s.set_signal_type("atomic_resolution")
        signal = time.perf_counter() - clock
        seg = hyperspy_symseg.symmetry_segmentation(s, **kwargs)
        np.asarray(seg.labels.data)
        runs.append({"total": time.perf_counter() - clock, "signal": signal, "steps": dict(seg.timings),
                     "parts": {k: v for k, v in parts.items() if k not in parts_before}})
        if i == 0:
            first_kernels = dict(kernels)
    print(json.dumps({"runs": runs, "kernels": first_kernels}))


def breakdown_main(args) -> None:
    if not IMAGE.exists():
        print(f"{IMAGE} is missing: --fresh measures the authors' example image only.", file=sys.stderr)
        return
    env = _child_env()
    for method in args.methods:
        for stride in args.strides:
            job = {"kind": "breakdown", "method": method, "stride": stride}
            _spawn(job, env)  # fills numba's cache if needed
            results = [_spawn(job, env) for _ in range(args.repeat)]
            ms = lambda values: f"{1000 * _median(values):.1f}"  # noqa: E731
            fresh = [r["runs"][0]["total"] for r in results]
            warm = [r["runs"][1]["total"] for r in results]
            rows = [["fresh run (image -> labels)", ms(fresh)], ["warm run, same process", ms(warm)],
                    ["fresh - warm", ms([f - w for f, w in zip(fresh, warm)])],
                    ["  HyperSpy's first Signal2D + set_signal_type",
                     ms([r["runs"][0]["signal"] - r["runs"][1]["signal"] for r in results])]]
            for key in results[0]["runs"][0]["parts"]:
                rows.append([f"  {key}", ms([r["runs"][0]["parts"].get(key, 0.0) for r in results])])
            names = sorted({n for r in results for n in r["kernels"]})
            load = [sum(r["kernels"].get(n, (0.0, 0.0))[0] for n in names) for r in results]
            wait = [sum(r["kernels"].get(n, (0.0, 0.0))[1] for n in names) for r in results]
            rows.append([f"  numba first calls, {len(names)} kernels (cache loads, this thread)", ms(load)])
            for n in names:
                rows.append([f"    {n}", ms([r["kernels"].get(n, (0.0, 0.0))[0] for r in results])])
            rows.append(["  (other threads waiting for those loads, not on the critical path twice)", ms(wait)])
            explained = [r["runs"][0]["signal"] - r["runs"][1]["signal"] + sum(r["runs"][0]["parts"].values())
                         + sum(v[0] for v in r["kernels"].values()) for r in results]
            rows.append(["  remainder (fresh - warm - the above)",
                         ms([f - w - e for f, w, e in zip(fresh, warm, explained)])])
            for step in results[0]["runs"][0]["steps"]:
                rows.append([f"step {step}: fresh / warm",
                             f"{ms([r['runs'][0]['steps'][step] for r in results])} / "
                             f"{ms([r['runs'][1]['steps'][step] for r in results])}"])
            print_table(["part", "ms (median)"], rows,
                        title=f"Fresh minus warm, {method}, stride {stride}, {IMAGE.name}, pySTEM's defaults; "
                              f"{args.repeat} fresh processes; load average {os.getloadavg()[0]:.1f}")


def _spawn(job: dict, env=None, root: Path = ROOT) -> dict:
    """Run ``job`` in a new Python process (``root``'s copy of this script) and return what it printed
    (the last line, as JSON)."""
    script = Path(root) / "benchmarks" / Path(__file__).name
    proc = subprocess.run([sys.executable, str(script), "--child", json.dumps(job)],
                          capture_output=True, text=True, env=env, cwd=tempfile.gettempdir())
    if proc.returncode:
        raise RuntimeError(f"child {job} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _child_env(root: Path = ROOT) -> dict:
    """The environment of the children: this checkout's package (or ``root``'s) first."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(root)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env


def _cli_wall_time(env) -> tuple[float, str]:
    """Wall time of one ``symseg segment FILE`` (default options) on the image saved as .hspy, in a new process."""
    code = "import sys; from hyperspy_symseg.cli import main; sys.exit(main())"  # what the console script runs
    with tempfile.TemporaryDirectory() as folder:
        saver = (f"import numpy as np, hyperspy.api as hs; "
                 f"hs.signals.Signal2D(np.load({str(IMAGE)!r}).astype(np.float32)).save({folder!r} + '/image.hspy')")
        subprocess.run([sys.executable, "-c", saver], check=True, env=env, capture_output=True)
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", code, "segment", f"{folder}/image.hspy", "-o", f"{folder}/labels.hspy",
                               "-q"], env=env, capture_output=True, text=True, cwd=folder)
        wall = time.perf_counter() - start
    if proc.returncode:
        raise RuntimeError(f"symseg segment failed:\n{proc.stderr[-4000:]}")
    return wall, "symseg segment image.hspy -o labels.hspy -q (default options: automatic stage, n_patterns 'auto')"


def _median(values) -> float:
    return float(statistics.median(values))


def fresh_main(args) -> None:
    if not IMAGE.exists():
        print(f"{IMAGE} is missing: --fresh measures the authors' example image only.", file=sys.stderr)
        return
    env = _child_env()
    for method in dict.fromkeys(["direct"] + list(args.methods)):  # the numba caches of every method exist from here on
        _spawn({"kind": "lcm", "method": method, "stride": 8, "warm": 0}, env)
    load_before = os.getloadavg()  # the machine is shared: its load goes with the times
    jobs = [{"kind": "lcm", "method": m, "stride": s} for m in args.methods for s in sorted(args.strides, reverse=True)]
    if not args.no_auto:
        jobs.append({"kind": "auto", "method": "direct", "stride": "auto"})
        jobs.append({"kind": "columns", "method": "direct", "stride": "auto"})
    rows, peaks, imports_after_hs, import_cpu = [], {}, [], []
    for job in jobs:
        slow = job["method"] == "fft" and job["stride"] in (1, 2)
        repeat = args.fft_repeat if slow else args.repeat
        results = [_spawn(dict(job, warm=args.warm_repeat), env) for _ in range(repeat)]
        fresh = [r["fresh"] for r in results]
        warm = [t for r in results for t in r["warm"]]
        imports_after_hs += [r["import_symseg"] for r in results]
        import_cpu += [r["import_cpu"] for r in results]
        peak = max(r["peak"] for r in results) / 2**20
        key = (job["method"], job["stride"])
        if job["kind"] == "lcm":
            peaks[key] = peak
        ref_fresh, ref_warm = PYSTEM_FRESH_SECONDS.get(key), PYSTEM_SECONDS.get(key)
        r0 = results[0]
        what = (f"auto: k={r0['n_patterns']}, stride {r0['stride']}" if job["kind"] == "auto" else
                f"auto + find_atom_columns ({r0['n_columns']} columns)" if job["kind"] == "columns" else
                f"{job['method']}, stride {job['stride']}")
        warm_s = _median(warm) if warm else None
        rows.append([
            what, "x".join(map(str, r0["grid"])),
            f"{_median(fresh):.3f}", f"{min(fresh):.3f}", f"{_median([r['fresh_cpu'] for r in results]):.2f}",
            f"{_median([r['fresh_descriptors'] for r in results]):.3f}",
            f"{_median([r['fresh_signal'] for r in results]):.3f}",
            f"{_median([r['fresh'] + r['import_symseg'] for r in results]):.2f}",
            f"{warm_s:.3f}" if warm_s else "-",
            f"{_median([t for r in results for t in r['warm_descriptors']]):.3f}" if warm_s else "-",
            f"{_median(fresh) / warm_s:.1f}" if warm_s else "-",
            f"{ref_fresh:.2f}" if ref_fresh else "-", _ratio(ref_fresh / _median(fresh)) if ref_fresh else "-",
            f"{ref_warm:.2f}" if ref_warm else "-", _ratio(ref_warm / warm_s) if ref_warm and warm_s else "-",
            f"{peak:.0f}",
        ])
        if any(r.get("warm_labels_differ") for r in results):
            rows[-1][0] += " (warm labels differ!)"
        print(f"  {what}: fresh {_median(fresh):.3f} s, warm {warm_s or float('nan'):.3f} s", file=sys.stderr)
    print_table(
        ["run", "descriptor grid", "fresh s", "fresh min s", "fresh CPU s", "fresh descriptors s",
         "of fresh: HyperSpy's first Signal2D s", "+ import s", "warm s",
         "warm descriptors s", "fresh / warm", "pySTEM fresh s (issue 12)", "speed-up fresh",
         "pySTEM s (reference README)", "speed-up warm", "peak RSS MiB"],
        rows,
        title=f"Fresh process vs warm, {IMAGE.name} 1024x1024, pySTEM's defaults (patch 20, window 21, 81 shifts, "
        f"5 components, 2 patterns); fresh: median and minimum of {args.repeat} processes ({args.fft_repeat} for fft "
        f"at strides 1-2), from the image load to the labels after the imports; '+ import': with "
        f"`import hyperspy_symseg`; CPU: user + system time of all threads (less disturbed by other "
        f"processes than wall time); warm: median of {args.warm_repeat} more runs in each process; load average "
        f"(1, 5, 15 min) {' / '.join(f'{x:.1f}' for x in load_before)} before, "
        f"{' / '.join(f'{x:.1f}' for x in os.getloadavg())} after",
    )
    alone = [_spawn({"kind": "import", "modules": ["hyperspy_symseg"]}, env)["hyperspy_symseg"] for _ in range(args.repeat)]
    cli, cli_what = _cli_wall_time(env)
    fixed = [
        ["import hyperspy_symseg after import hyperspy.api", f"{_median(imports_after_hs):.2f} s",
         f"median of {len(imports_after_hs)} processes; CPU {_median(import_cpu):.2f} s"],
        ["import hyperspy_symseg alone (no hyperspy.api before)", f"{_median(alone):.2f} s", f"median of {len(alone)}"],
        ["symseg segment FILE, wall time of the command", f"{cli:.2f} s", cli_what],
    ]
    for (method, stride), peak in peaks.items():
        ref = PYSTEM_PEAK_MB.get(stride)
        fixed.append([f"peak RSS, fresh process, {method}, stride {stride}",
                      f"{peak:.0f} MiB = {peak * 2**20 / 1e6:.0f} MB", f"pySTEM {ref} MB (issue 12)" if ref else "-"])
    print_table(["fixed cost", "value", "note"], fixed, title="Fixed costs of a process")


def compare_main(args) -> None:
    """--fresh --baseline: this checkout and another one, alternating, the same jobs."""
    if not IMAGE.exists():
        print(f"{IMAGE} is missing: --fresh measures the authors' example image only.", file=sys.stderr)
        return
    trees = {"baseline": Path(args.baseline).resolve(), "this": ROOT}
    envs = {name: _child_env(root) for name, root in trees.items()}
    for name, root in trees.items():  # the numba caches of both, every method, exist from here on
        for method in dict.fromkeys(["direct"] + list(args.methods)):
            _spawn({"kind": "lcm", "method": method, "stride": 8, "warm": 0}, envs[name], root)
    load_before = os.getloadavg()
    jobs = [{"kind": "lcm", "method": m, "stride": s} for m in args.methods for s in sorted(args.strides, reverse=True)]
    results = {(name, i): [] for name in trees for i in range(len(jobs))}
    imports = {name: [] for name in trees}
    for _ in range(args.repeat):
        for i, job in enumerate(jobs):
            for name, root in trees.items():
                results[name, i].append(_spawn(dict(job, warm=args.warm_repeat), envs[name], root))
        for name, root in trees.items():
            imports[name].append(_spawn({"kind": "import", "modules": ["hyperspy.api", "hyperspy_symseg"]},
                                        envs[name], root)["hyperspy_symseg"])
    rows = []
    for i, job in enumerate(jobs):
        for name in trees:
            runs = results[name, i]
            warm = [t for r in runs for t in r["warm"]]
            rows.append([
                f"{job['method']}, stride {job['stride']}", f"{name} ({trees[name]})",
                f"{_median([r['fresh'] for r in runs]):.3f}", f"{min(r['fresh'] for r in runs):.3f}",
                f"{_median([r['fresh_cpu'] for r in runs]):.3f}",
                f"{_median([r['fresh_descriptors'] for r in runs]):.3f}",
                f"{_median([r['fresh_signal'] for r in runs if 'fresh_signal' in r]):.3f}"
                if all("fresh_signal" in r for r in runs) else "-",
                f"{_median([r['fresh'] + r['import_symseg'] for r in runs]):.3f}",
                f"{_median(warm):.3f}" if warm else "-", f"{min(warm):.3f}" if warm else "-",
                f"{_median([r['import_symseg'] for r in runs]):.3f}",
                f"{max(r['peak'] for r in runs) / 2**20:.1f}", f"{max(r['peak'] for r in runs) / 1e6:.1f}",
            ])
    print_table(
        ["run", "checkout", "fresh s", "fresh min s", "fresh CPU s", "fresh descriptors s",
         "of fresh: HyperSpy's first Signal2D s", "fresh + import s",
         "warm s", "warm min s", "import hyperspy_symseg s (after hyperspy.api)", "peak RSS MiB", "peak RSS MB"],
        rows,
        title=f"Side by side, {IMAGE.name}, pySTEM's defaults; {args.repeat} fresh processes per row (alternating "
        f"the checkouts), {args.warm_repeat} warm runs in each; medians; load average (1, 5, 15 min) "
        f"{' / '.join(f'{x:.1f}' for x in load_before)} before, {' / '.join(f'{x:.1f}' for x in os.getloadavg())} after",
    )
    print_table(["checkout", "import hyperspy_symseg s (after hyperspy.api), median", "min"],
                [[name, f"{_median(v):.3f}", f"{min(v):.3f}"] for name, v in imports.items()],
                title=f"Import alone, {args.repeat} processes each")


if __name__ == "__main__":
    main()
