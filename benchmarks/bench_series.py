"""Image series: the fast model against the full one, and memory of lazy stacks.

    python benchmarks/bench_series.py [--frames 100] [--size 512] [--lazy-frames 100 1000]

1. A forward-model series (``simulate.migrating_boundary_series``: a twin boundary
   moving and bulging, frame-to-frame drift, Poisson and scan noise) of --frames
   frames of --size px. The model is fitted on frame 0 with all operations (81
   translations, the defaults); every frame is then segmented with the full model
   and with fast models keeping the 2, 5, 10, 25, 50 most separable operations:
   time per frame, agreement with the full model's labels, accuracy against ground
   truth (one label matching for the whole series).
2. Frames per second of the 5-operation fast model on 1024 x 1024 frames.
3. Peak memory (RSS rise) while a lazy stack of --lazy-frames frames, generated on
   the fly chunk by chunk, is segmented and reduced to per-frame pattern areas:
   memory should not grow with the number of frames.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PeakMemory, print_table, run_times  # noqa: E402

OPERATIONS = (2, 5, 10, 25, 50)


def fast_model_table(n_frames: int, size: int, repeat: int):
    from hyperspy_symseg import metrics, simulate, symmetry_segmentation

    start = time.perf_counter()
    sim = simulate.migrating_boundary_series(n_frames=n_frames, shape=(size, size), random_state=0)
    print(f"  simulated {n_frames} frames of {size}x{size} in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    full = symmetry_segmentation(sim.image, 2, random_state=0, reference_frames=[0], show_progressbar=False)
    full.predict(sim.image.inav[:2], show_progressbar=False)  # compile
    times, full_labels = run_times(lambda: full.predict(sim.image, show_progressbar=False), repeat)
    rows = [["all", full.descriptor.n_operations, f"{1000 * np.median(times) / n_frames:.1f}",
             f"{n_frames / np.median(times):.1f}", "1.0000", f"{metrics.matched_accuracy(full_labels, sim.labels):.4f}"]]
    for n in OPERATIONS:
        fast = full.select_operations(n, show_progressbar=False)
        times, labels = run_times(lambda: fast.predict(sim.image, show_progressbar=False), repeat)  # noqa: B023
        agreement = float(np.mean(labels.data == full_labels.data))
        rows.append([n, fast.descriptor.n_operations, f"{1000 * np.median(times) / n_frames:.1f}",
                     f"{n_frames / np.median(times):.1f}", f"{agreement:.4f}",
                     f"{metrics.matched_accuracy(labels, sim.labels):.4f}"])
        print(f"  {n} operations: {rows[-1]}", file=sys.stderr)
    print_table(["operations kept", "operations", "ms / frame", "frames / s", "agreement with full", "accuracy vs truth"],
                rows, f"Fast model: {n_frames} frames of {size}x{size}, fitted on frame 0; median of {repeat} runs")
    return full


def large_frames_rate(n_frames: int = 20, repeat: int = 3):
    import hyperspy.api as hs

    from hyperspy_symseg import simulate, symmetry_segmentation

    sim = simulate.migrating_boundary_series(n_frames=n_frames, shape=(1024, 1024), random_state=1)
    seg = symmetry_segmentation(sim.image, 2, random_state=0, reference_frames=[0], n_operations=5, show_progressbar=False)
    stack = hs.signals.Signal2D(sim.image.data)
    seg.predict(stack.inav[:2], show_progressbar=False)
    times, _ = run_times(lambda: seg.predict(stack, show_progressbar=False), repeat)
    rate = n_frames / np.median(times)
    print_table(["frames", "frame size", "operations", "s (median)", "frames / s"],
                [[n_frames, "1024x1024", 5, f"{np.median(times):.2f}", f"{rate:.1f}"]],
                "Fast model (5 operations) on 1024 x 1024 frames, in memory")


def lazy_memory(frame_counts, size: int = 512, chunk: int = 10):
    import dask.array as da
    import hyperspy.api as hs

    from hyperspy_symseg import simulate, symmetry_segmentation

    base = simulate.migrating_boundary_series(n_frames=2, shape=(size, size), random_state=2).image
    seg = symmetry_segmentation(base, 2, random_state=0, reference_frames=[0], n_operations=5, show_progressbar=False)
    model = base.data[0].astype(np.float32)

    def frames(block_info=None):
        (t0, t1), *_ = block_info[None]["array-location"]
        rng = np.random.default_rng(t0)
        return (model[None] + rng.normal(scale=0.05 * model.std(), size=(t1 - t0,) + model.shape)).astype(np.float32)

    rows = []
    for n in frame_counts:
        data = da.map_blocks(frames, dtype=np.float32, chunks=((chunk,) * (n // chunk), (size,), (size,)))
        lazy = hs.signals.Signal2D(data).as_lazy()
        with PeakMemory() as mem:
            start = time.perf_counter()
            labels = seg.predict(lazy)
            result = type(seg)(lazy, labels, seg.descriptors, seg.model, seg.grid_labels, seg.parameters)
            areas = result.pattern_areas()
            seconds = time.perf_counter() - start
        assert areas.data.shape == (2, n)
        rows.append([n, f"{n * size * size * 4 / 2**20:.0f}", f"{mem.peak / 2**20:.0f}", f"{seconds:.1f}", f"{n / seconds:.1f}"])
        print(f"  lazy {n} frames: {rows[-1]}", file=sys.stderr)
    print_table(["frames", "stack MiB (float32)", "peak RSS rise MiB", "s", "frames / s"], rows,
                f"Lazy {size}x{size} stacks generated chunk by chunk ({chunk} frames per chunk), labelled with the "
                "5-operation fast model and reduced to per-frame pattern areas")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--lazy-frames", type=int, nargs="+", default=[100, 1000])
    args = parser.parse_args(argv)
    fast_model_table(args.frames, args.size, args.repeat)
    large_frames_rate()
    lazy_memory(args.lazy_frames)


if __name__ == "__main__":
    main()
