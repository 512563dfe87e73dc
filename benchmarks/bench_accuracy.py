"""Segmentation accuracy on forward-model scenes with ground truth, at the samplings and doses of real images.

    python benchmarks/bench_accuracy.py               # the default segmentation (only n_patterns given)
    python benchmarks/bench_accuracy.py --quick       # periods 4, 15, 40 and doses 100, 8 only
    python benchmarks/bench_accuracy.py --auto        # also n_patterns="auto": the k chosen
    python benchmarks/bench_accuracy.py --set background=None intensity_features=False   # any parameters
    python benchmarks/bench_accuracy.py --pystem      # pySTEM's configuration, reproduced with this package
    python benchmarks/bench_accuracy.py --kinds grains control   # some kinds of scene only

The suite (``benchmarks/_suite.py``): the eight scenes of earlier versions and ten that
real images look like (single-crystal controls, particles on vacuum and carbon with
thickness ramps, an interface with an intensity step, HRTEM graphene, contamination,
strong backgrounds and scan distortions), each at 4, 8, 15, 25 and 40 px per lattice
period and at four doses (clean, 100, 30 and 8 counts at a column peak), 512 x 512.
Score: pixel accuracy after the best one-to-one matching of labels (Hungarian), with
``n_patterns`` = the scene's number of regions; for ``--auto`` also whether the chosen
k equals it. Times are warm (in-process, kernels compiled).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import print_table  # noqa: E402
from _suite import build_suite  # noqa: E402

#: pySTEM 0.0.26's defaults expressed in this package's parameters: its shift grid
#: (arange(-21, 22, 5) on both axes, no zero shift), patch 20, stride 5, 5 components,
#: one k-means++ start on every grid point, no descriptors within patch + window of
#: the edges, the image scored as it is. This package reproduces its descriptors to
#: 1.5e-8 (tests/test_descriptors_translation.py), so this runs its method, not its code.
PYSTEM = {
    "descriptor": "preselected_translations",
    "preselected_translations": [[m, n] for m in range(-21, 22, 5) for n in range(-21, 22, 5)],
    "patch_x": 20, "patch_y": 20, "stride": 5, "n_components": 5,
    "n_init": 1, "max_samples": 10**9, "edges": "exclude", "background": None, "intensity_features": False,
}


def parse_value(text):
    if text == "None":
        return None
    if text in ("True", "False"):
        return text == "True"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def evaluate(cases, params, auto=False, progress=True):
    """[(case, accuracy, seconds, k_auto, accuracy_auto)] of the segmentation with ``params``."""
    import warnings

    from hyperspy_symseg import metrics, symmetry_segmentation

    out = []
    for i, case in enumerate(cases):
        image, truth = case.result.image, case.result.labels
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            start = time.perf_counter()
            seg = symmetry_segmentation(image, case.n_regions, random_state=0, show_progressbar=False, **params)
            seconds = time.perf_counter() - start
            acc = metrics.matched_accuracy(seg.labels, truth) if case.n_regions > 1 else float(
                np.bincount(np.asarray(seg.labels.data).ravel()).max() / seg.labels.data.size)
            frame = _edge_frame_errors(seg, truth) if case.n_regions > 1 else (0, 0, 1)
            k_auto = acc_auto = None
            if auto:
                seg_a = symmetry_segmentation(image, "auto", random_state=0, show_progressbar=False, **params)
                k_auto = seg_a.n_patterns
                acc_auto = metrics.matched_accuracy(seg_a.labels, truth)
        out.append((case, acc, seconds, k_auto, acc_auto, frame))
        if progress:
            extra = f", auto k={k_auto}" if auto else ""
            print(f"  [{i + 1}/{len(cases)}] {case.name} @ {case.period_px} px, {case.dose}: {acc:.3f}{extra}",
                  file=sys.stderr)
        case.release()
    return out


def _edge_frame_errors(seg, truth):
    """(errors in the edge frame, all errors, pixels) of a segmentation against ``truth``.

    The edge frame: the pixels beyond the descriptor grid's outermost points, whose labels
    are those of the nearest grid point (the patch and every shift must fit in the image,
    so at 40 px per period the first grid row lies 46-63 px inside).
    """
    from hyperspy_symseg import metrics

    truth = np.asarray(getattr(truth, "data", truth))
    wrong = metrics.matched_prediction(seg.labels, truth) != truth
    grid = seg.model.descriptor.grid(truth.shape[-2:], seg.model.stride)
    rows, cols = grid.rows(), grid.cols()
    inside = np.zeros(truth.shape[-2:], dtype=bool)
    inside[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1] = True
    return int(np.count_nonzero(wrong & ~inside)), int(np.count_nonzero(wrong)), int(wrong.size)


def report(results, title, auto=False):
    periods = sorted({r[0].period_px for r in results})
    names = list(dict.fromkeys(r[0].name for r in results))
    by = defaultdict(list)
    for case, acc, *_ in results:
        by[case.name, case.period_px].append(acc)
    rows = []
    for name in names:
        rows.append([name] + [f"{np.mean(by[name, p]):.3f} / {np.min(by[name, p]):.3f}" if by[name, p] else "-"
                              for p in periods])
    multi = [r for r in results if r[0].n_regions > 1]
    rows.append(["mean (multi-region)"] + [f"{np.mean([r[1] for r in multi if r[0].period_px == p]):.3f}"
                                             for p in periods])
    rows.append(["min (multi-region)"] + [f"{np.min([r[1] for r in multi if r[0].period_px == p]):.3f}"
                                            for p in periods])
    print_table(["scene (accuracy mean / min over doses)"] + [f"{p} px" for p in periods], rows, title)
    frows = []
    for p in periods:
        at = [r for r in multi if r[0].period_px == p]
        in_frame, errors = sum(r[5][0] for r in at), sum(r[5][1] for r in at)
        frows.append([f"{p} px", f"{in_frame / max(errors, 1):.2f}",
                      f"{np.mean([r[1] + r[5][0] / r[5][2] for r in at]):.3f}"])
    print_table(["period", "share of the errors in the edge frame", "mean accuracy were the frame right"], frows,
                "Errors beyond the outermost descriptor grid points (labels of the nearest grid point)")
    doses = list(dict.fromkeys(r[0].dose for r in results))
    drows = [[str(d), f"{np.mean([r[1] for r in multi if r[0].dose == d]):.3f}",
              f"{np.min([r[1] for r in multi if r[0].dose == d]):.3f}"] for d in doses]
    print_table(["dose", "accuracy mean", "accuracy min"], drows, "Multi-region scenes by dose")
    controls = [r for r in results if r[0].n_regions == 1]
    if controls:
        print(f"\nsingle-crystal controls with n_patterns=1: largest-pattern fraction "
              f"{np.mean([r[1] for r in controls]):.3f} (it is 1 by construction)")
    accs = np.array([r[1] for r in multi])
    seconds = np.median([r[2] for r in results])
    print(f"\nmulti-region scenes, all samplings and doses: accuracy mean {accs.mean():.3f}, min {accs.min():.3f}; "
          f"median time per 512 x 512 image {seconds:.2f} s (warm)")
    if auto:
        right = defaultdict(list)
        for case, _, _, k, *_ in results:
            right[case.name].append(k == case.n_regions)
        krows = [[name, f"{np.mean(right[name]):.2f}",
                  ", ".join(str(r[3]) for r in results if r[0].name == name)] for name in names]
        total = np.mean([r[3] == r[0].n_regions for r in results])
        krows.append(["all scenes", f"{total:.3f}", ""])
        print_table(["scene", "right k (fraction)", "k chosen per case"], krows, 'n_patterns="auto"')
        auto_acc = [r[4] for r in results if r[0].n_regions > 1]
        print(f"\naccuracy with n_patterns='auto' on multi-region scenes: mean {np.mean(auto_acc):.3f}, "
              f"min {np.min(auto_acc):.3f}; right k on {total:.1%} of all cases")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="periods 4, 15, 40 and doses 100, 8")
    parser.add_argument("--auto", action="store_true", help='also run n_patterns="auto"')
    parser.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE", help="segmentation parameters")
    parser.add_argument("--pystem", action="store_true", help="pySTEM's configuration (see PYSTEM)")
    parser.add_argument("--kinds", nargs="*", default=None, help="only these kinds of scene (see _suite.py)")
    parser.add_argument("--periods", nargs="*", type=float, default=None, help="only these periods (px)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    params = dict(PYSTEM) if args.pystem else {}
    params.update({k: parse_value(v) for k, v in (item.split("=", 1) for item in args.set)})
    kwargs = {"quick": args.quick, "seed": args.seed}
    if args.kinds:
        kwargs["kinds"] = args.kinds
    if args.periods:
        kwargs["periods"] = tuple(args.periods)
    cases = list(build_suite(**kwargs))
    print(f"{len(cases)} cases", file=sys.stderr)
    evaluate(cases[:1], params, progress=False)  # compile the kernels
    what = ", ".join(f"{k}={v}" for k, v in params.items() if k != "preselected_translations")
    what = ("pySTEM's configuration" + (f" ({what})" if args.set else "")) if args.pystem else (
        what or "defaults (only n_patterns given)")
    start = time.perf_counter()
    results = evaluate(cases, params, auto=args.auto)
    report(results, f"Matched accuracy, {what}", auto=args.auto)
    print(f"\n{len(cases)} cases in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
