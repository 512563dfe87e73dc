"""The ``symseg`` command.

``symseg segment FILE [FILE ...]``  segment image files of any RosettaSciIO format
(several files or quoted globs), one labels file per input and a CSV of pattern areas.
``symseg demo``                     segment a simulated two-grain image and score it.

Exit codes: 0 success, 1 an input could not be used (missing or unreadable file,
wrong dimensionality, bad parameter values; the other files are still processed),
2 wrong command-line usage.
"""

from __future__ import annotations

import argparse
import csv
import glob
import sys
import time
from pathlib import Path

from .descriptors import descriptor_parameters
from .segmentation import DEFAULTS

_LCM = descriptor_parameters("local_correlation_map")


class CommandError(Exception):
    """An error to report to the shell user in one line (exit code 1)."""


def _int_or_auto(text: str):
    """argparse type: an integer or the word 'auto'."""
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer or 'auto', got {text!r}") from None


def _add_segmentation_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--n-patterns", type=_int_or_auto, default=2, help="number of patterns, or 'auto' (default: 2)")
    p.add_argument("--stride", type=_int_or_auto, default=DEFAULTS["stride"],
                   help="descriptor grid spacing in px, or 'auto' (a quarter of the lattice period; default)")
    p.add_argument(
        "--descriptor",
        default=DEFAULTS["descriptor"],
        choices=["local_correlation_map", "rotational_symmetry_maximum_pooling", "reflection_symmetry_maximum_pooling",
                 "power_spectrum"],
        help="symmetry descriptor (default: local_correlation_map)",
    )
    p.add_argument("--method", choices=["direct", "fft"], help=f"how translation scores are computed (default: {_LCM['method']})")
    p.add_argument("--patch", type=int, help="translations: patch half size in px (default: 0.8 lattice periods)")
    p.add_argument("--window", type=int, help="shift, pooling or FFT window half size in px (default: 1.33 periods)")
    p.add_argument("--radius", type=float, help="rotations/reflections: patch radius in px (default: 1.33 periods)")
    p.add_argument("--no-background", action="store_true",
                   help="score the image as it is (default: remove the lattice background first)")
    p.add_argument("--no-intensity-features", action="store_true",
                   help="only symmetry scores (default: also crystallinity and, outside crystals, intensity)")
    p.add_argument("--n-components", type=float, default=None, help="PCA components: an integer, or a fraction of variance in (0, 1)")
    p.add_argument("--random-state", type=int, default=0, help="seed (default: 0)")


def _segmentation_kwargs(args) -> dict:
    n_components = args.n_components
    if n_components is not None and float(n_components).is_integer() and n_components >= 1:
        n_components = int(n_components)
    options = {
        "method": args.method,
        "patch_x": args.patch,
        "patch_y": args.patch,
        "window_x": args.window,
        "window_y": args.window,
        "radius": args.radius,
    }
    if args.no_background:
        options["background"] = None
    if args.no_intensity_features:
        options["intensity_features"] = False
    return dict(
        n_patterns=args.n_patterns,
        stride=args.stride,
        descriptor=args.descriptor,
        n_components=n_components,
        random_state=args.random_state,
        **{k: v for k, v in options.items() if v is not None},
    )


def _load_image(path: str, index: int | None):
    import hyperspy.api as hs

    if not Path(path).exists():
        raise CommandError(f"{path}: no such file")
    try:
        loaded = hs.load(path, signal_type="atomic_resolution")
    except Exception as exc:  # RosettaSciIO raises many types for unreadable files
        raise CommandError(f"{path}: cannot read it ({type(exc).__name__}: {exc})") from exc
    signals = loaded if isinstance(loaded, list) else [loaded]
    if index is not None:
        if not 0 <= index < len(signals):
            raise CommandError(f"{path}: --signal-index must be in [0, {len(signals) - 1}], got {index}")
        signals = [signals[index]]
    images = [s for s in signals if s.axes_manager.signal_dimension == 2]
    if not images:
        dims = ", ".join(str(s.axes_manager.signal_dimension) for s in signals)
        raise CommandError(f"{path}: holds no image (signal dimensions: {dims}); symseg needs 2D images")
    return images[0]


def _save_overlay(image, labels, png: str) -> None:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    from .plot import segmentation_overlay

    ax = segmentation_overlay(image, labels)
    ax.figure.tight_layout()
    ax.figure.savefig(png, dpi=120)
    plt.close(ax.figure)


def _expand(patterns: list[str]) -> list[str]:
    """Files named on the command line; quoted glob patterns are expanded here."""
    files = []
    for pattern in patterns:
        if not Path(pattern).exists() and any(c in pattern for c in "*?["):
            matches = sorted(glob.glob(pattern))
            if not matches:
                raise CommandError(f"{pattern}: no file matches")
            files.extend(matches)
        else:
            files.append(pattern)
    return files


def _output_path(file: str, args, several: bool) -> Path:
    if args.output and not several:
        return Path(args.output)
    folder = Path(args.output) if args.output else Path(file).parent
    return folder / f"{Path(file).stem}_labels{args.format}"


def _area_rows(file: str, seg) -> list[dict]:
    areas = seg.pattern_areas()
    fractions = seg.pattern_areas(fraction=True)
    unit = areas.metadata.Signal.quantity.removeprefix("Area (").removesuffix(")")
    rows = []
    for k in range(areas.data.shape[0]):
        for t in range(areas.data.shape[1]):
            rows.append({"file": file, "frame": t, "pattern": k, f"area ({unit})": f"{areas.data[k, t]:.6g}",
                         "fraction": f"{fractions.data[k, t]:.6f}"})
    return rows


def cmd_segment(args) -> int:
    from .segmentation import symmetry_segmentation

    files = _expand(args.files)
    several = len(files) > 1
    if several and args.output and Path(args.output).suffix:
        raise CommandError(f"-o must be a folder when segmenting several files, got {args.output!r}")
    if several and args.output:
        Path(args.output).mkdir(parents=True, exist_ok=True)
    failures, rows = 0, []
    for file in files:
        try:
            image = _load_image(file, args.signal_index)
            start = time.perf_counter()
            try:
                seg = symmetry_segmentation(image, show_progressbar=not args.quiet, **_segmentation_kwargs(args))
            except (ValueError, TypeError) as exc:
                raise CommandError(f"{file}: {exc}") from exc
            elapsed = time.perf_counter() - start
            out = _output_path(file, args, several)
            seg.labels.save(out, overwrite=True)
            if args.png:
                png = Path(args.png) if not several else out.with_suffix(".png")
                _save_overlay(image, seg.labels, str(png))
            rows.extend(_area_rows(file, seg))
            if not args.quiet:
                fractions = ", ".join(f"{k}: {n / seg.pattern_sizes.sum():.1%}" for k, n in enumerate(seg.pattern_sizes))
                print(f"{file}: {seg.n_patterns} patterns ({fractions}) in {elapsed:.2f} s -> {out}")
                print(f"  {seg.describe_parameters()}")
        except CommandError as exc:
            failures += 1
            print(f"symseg: error: {exc}", file=sys.stderr)
    if rows:
        csv_path = Path(args.csv) if args.csv else _output_path(files[0], args, several).parent / "pattern_areas.csv"
        with open(csv_path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        if not args.quiet:
            print(f"pattern areas of {len(files) - failures} file(s) -> {csv_path}")
    if failures and not args.quiet:
        print(f"symseg: {failures} of {len(files)} file(s) failed", file=sys.stderr)
    return 1 if failures else 0


def cmd_demo(args) -> int:
    from . import metrics, simulate
    from .segmentation import symmetry_segmentation

    t0 = time.perf_counter()
    sim = simulate.two_grain_image(shape=(args.size, args.size), random_state=args.random_state)
    print(f"simulated {args.size}x{args.size} two-grain image in {time.perf_counter() - t0:.2f} s", flush=True)
    # Compile the numba kernels on a small image first so the timing below is the
    # segmentation itself (compiled kernels are cached on disk after the first run).
    print("warming up the kernels (compiles them on the first run only, ~10-30 s) ...", flush=True)
    t0 = time.perf_counter()
    symmetry_segmentation(sim.image.isig[:128, :128], 2, random_state=0, show_progressbar=False)
    print(f"  done in {time.perf_counter() - t0:.2f} s", flush=True)
    t0 = time.perf_counter()
    seg = symmetry_segmentation(sim.image, 2, random_state=args.random_state, show_progressbar=False)
    t_seg = time.perf_counter() - t0
    accuracy = metrics.matched_accuracy(seg.labels, sim.labels)
    ari = metrics.adjusted_rand_index(seg.labels, sim.labels)
    _save_overlay(sim.image, seg.labels, args.png)
    print(f"segmentation: {t_seg:.3f} s  ({seg.descriptor.n_operations} translations, stride {seg.stride})")
    print(f"accuracy against ground truth: {accuracy:.4f}  (adjusted Rand index {ari:.4f})")
    print(f"overlay written to {args.png}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="symseg", description="Segment atomic-resolution images by local symmetry.")
    sub = parser.add_subparsers(dest="command", required=True)

    seg = sub.add_parser("segment", help="segment image files (DM3/DM4/EMD/TIFF/hspy/... via RosettaSciIO)")
    seg.add_argument("files", nargs="+", metavar="FILE", help="image files (quoted glob patterns are expanded)")
    seg.add_argument("-o", "--output", help="labels file for one input, or a folder for several "
                     "(default: <input>_labels.hspy next to each input)")
    seg.add_argument("--format", default=".hspy", choices=[".hspy", ".zspy"], help="labels file format (default: .hspy)")
    seg.add_argument("--csv", help="CSV of the pattern areas (default: pattern_areas.csv in the output folder)")
    seg.add_argument("--png", help="also write an overlay image (PNG); with several files one per input")
    seg.add_argument("--signal-index", type=int, default=None, help="which signal of a multi-signal file (default: the first image)")
    seg.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    _add_segmentation_options(seg)
    seg.set_defaults(func=cmd_segment)

    demo = sub.add_parser("demo", help="segment a simulated two-grain image, print accuracy and time")
    demo.add_argument("--size", type=int, default=512, help="image size in px (default: 512)")
    demo.add_argument("--png", default="symseg_demo.png", help="overlay image to write (default: symseg_demo.png)")
    demo.add_argument("--random-state", type=int, default=0)
    demo.set_defaults(func=cmd_demo)

    from ._cli_columns import add_columns_parser

    add_columns_parser(sub, _load_image, CommandError)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CommandError as exc:
        print(f"symseg: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
