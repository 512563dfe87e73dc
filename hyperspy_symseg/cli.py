"""The ``symseg`` command.

``symseg segment FILE [FILE ...]``  segment image files of any RosettaSciIO format
(several files or quoted globs), one labels file per input and a CSV of pattern areas.
``symseg demo``                     segment a simulated two-grain image and score it.

Files are never lost: an input is never overwritten, an existing output (labels, CSV,
PNG) is kept unless ``--overwrite`` is given, and inputs with equal stems get distinct
labels files (``a/img.hspy`` and ``b/img.hspy`` -> ``a_img_labels.hspy``,
``b_img_labels.hspy``). A TIA ``.emi`` given with its ``_<n>.ser`` files is read once.

Exit codes: 0 success, 1 an input or output could not be used (missing or unreadable
file, a glob matching nothing, wrong dimensionality, bad parameter values, an output
that exists or cannot be written; each is reported in one line and the other files are
still processed), 2 wrong command-line usage.
"""

from __future__ import annotations

import argparse
import csv
import glob
import os
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
    p.add_argument("--n-patterns", type=_int_or_auto, default="auto",
                   help="number of patterns, or 'auto' (default: 'auto', chosen from 1 to 6; a single crystal is one pattern)")
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
    p.add_argument("--no-refine-boundaries", action="store_true",
                   help="label every grid point by its nearest cluster centre (default: decide the points at "
                        "crystal / vacuum edges again with half the patch, so particles are not dilated)")
    p.add_argument("--no-intensity-features", action="store_true",
                   help="cluster on the symmetry scores only (default: also on crystallinity and, "
                        "outside crystals, local intensity: vacuum, holes, contamination, particles "
                        "whose lattice does not show)")
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
    if args.no_refine_boundaries:
        options["refine_boundaries"] = False
    return dict(
        n_patterns=args.n_patterns,
        stride=args.stride,
        descriptor=args.descriptor,
        n_components=n_components,
        random_state=args.random_state,
        **{k: v for k, v in options.items() if v is not None},
    )


def _reader_keyword(hs, reader: str | None) -> dict:
    """``hs.load``'s keyword naming a reader: ``file_format`` from HyperSpy 2.4 on, ``reader`` before."""
    import inspect

    if not reader:
        return {}
    return {"file_format" if "file_format" in inspect.signature(hs.load).parameters else "reader": reader}


def _load_image(path: str, index: int | None, reader: str | None = None):
    import hyperspy.api as hs

    if not Path(path).exists():
        raise CommandError(f"{path}: no such file")
    try:
        try:
            loaded = hs.load(path, signal_type="atomic_resolution", **_reader_keyword(hs, reader))
        except ValueError as exc:
            # An .hdf5 / .h5 file several readers claim (HSPY, USID, Delmic, ...): HyperSpy's own
            # format is the one an image saved from HyperSpy (or atomap) has.
            if reader or "multiple file readers" not in str(exc) or "'HSPY'" not in str(exc):
                raise
            loaded = hs.load(path, signal_type="atomic_resolution", **_reader_keyword(hs, "HSPY"))
    except Exception as exc:  # RosettaSciIO raises many types for unreadable files
        hint = "" if reader else "; --file-format NAME picks a RosettaSciIO reader"
        raise CommandError(f"{path}: cannot read it ({type(exc).__name__}: {exc}){hint}") from exc
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


def _expand(patterns: list[str]) -> tuple[list[str], list[str]]:
    """Files named on the command line (quoted glob patterns expanded here), and the patterns matching nothing."""
    files, unmatched = [], []
    for pattern in patterns:
        if not Path(pattern).exists() and any(c in pattern for c in "*?["):
            matches = sorted(glob.glob(pattern))
            if not matches:
                unmatched.append(pattern)
            files.extend(matches)
        else:
            files.append(pattern)
    return files, unmatched


def _tia_companions(files: list[str]) -> set[str]:
    """The TIA ``<stem>_<n>.ser`` files of listed ``<stem>.emi`` files: reading the .emi reads them."""
    emi = {(Path(f).parent.resolve(), Path(f).stem) for f in files if Path(f).suffix.lower() == ".emi"}
    out = set()
    for f in files:
        p = Path(f)
        if p.suffix.lower() == ".ser" and "_" in p.stem:
            stem, index = p.stem.rsplit("_", 1)
            if index.isdigit() and (p.parent.resolve(), stem) in emi:
                out.add(f)
    return out


def _output_names(files: list[str], args, several: bool) -> dict[str, Path]:
    """The labels file of every input: distinct names, also for inputs with equal stems."""
    if args.output and not several:
        return {files[0]: Path(args.output)} if files else {}
    folder = (lambda f: Path(args.output)) if args.output else (lambda f: Path(f).parent)
    schemes = [
        lambda p: p.stem,
        lambda p: f"{p.stem}_{p.suffix.lstrip('.')}",
        lambda p: f"{p.parent.resolve().name}_{p.stem}",
        lambda p: f"{p.parent.resolve().name}_{p.stem}_{p.suffix.lstrip('.')}",
    ]

    def path(f, scheme):
        return (folder(f) / f"{scheme(Path(f))}_labels{args.format}").resolve()

    out = {f: path(f, schemes[0]) for f in files}
    for _ in range(2):  # a renamed group could meet another name once more
        groups: dict[Path, list[str]] = {}
        for f, o in out.items():
            groups.setdefault(o, []).append(f)
        for name, group in groups.items():
            if len(group) < 2:
                continue
            taken = {o for f, o in out.items() if f not in group}
            for scheme in schemes[1:]:
                candidate = {f: path(f, scheme) for f in group}
                if len(set(candidate.values())) == len(group) and not taken & set(candidate.values()):
                    break
            else:
                candidate = {f: name.with_name(f"{name.stem}_{k + 1}{name.suffix}") for k, f in enumerate(group)}
            out.update(candidate)
    return out


def _crystal_name(labels: Path) -> Path:
    """``<stem>_crystal<suffix>`` next to ``<stem>_labels<suffix>`` (or after any other labels name)."""
    stem = labels.stem
    stem = stem[: -len("_labels")] if stem.endswith("_labels") else stem
    return labels.with_name(f"{stem}_crystal{labels.suffix}")


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


def _write_csv(path: Path, rows: list[dict]) -> None:
    """The rows of every file; files with different area units get their own area column."""
    fieldnames = list(dict.fromkeys(key for row in rows for key in row))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fieldnames, restval="")
        writer.writeheader()
        writer.writerows(rows)


def _check_writable(path: Path, inputs: set[Path], overwrite: bool, what: str) -> None:
    """Refuse to write over an input, over an existing file without --overwrite, or into a missing folder."""
    resolved = path.resolve()
    if resolved in inputs:
        raise CommandError(f"{what} {path} is an input file; symseg never overwrites its inputs")
    if resolved.exists() and not overwrite:
        raise CommandError(f"{what} {path} exists; pass --overwrite to replace it")
    if not resolved.parent.is_dir():
        raise CommandError(f"{what} {path}: folder {resolved.parent} does not exist")
    if not os.access(resolved.parent, os.W_OK):
        raise CommandError(f"{what} {path}: folder {resolved.parent} is not writable")


def _fail(message: str) -> None:
    print(f"symseg: error: {message}", file=sys.stderr)


def cmd_segment(args) -> int:
    from .segmentation import symmetry_segmentation

    files, unmatched = _expand(args.files)
    failures = 0
    for pattern in unmatched:
        failures += 1
        _fail(f"{pattern}: no file matches")
    several = len(files) + len(unmatched) > 1  # as the user named them: -o is then a folder
    companions = _tia_companions(files)
    for f in sorted(companions):
        if not args.quiet:
            print(f"{f}: read with its .emi file, not segmented separately")
    files = [f for f in files if f not in companions]
    if several and args.output and Path(args.output).suffix:
        raise CommandError(f"-o must be a folder when segmenting several files, got {args.output!r}")
    files = list(dict.fromkeys(files))  # a file named twice is segmented once
    if several and args.output:
        try:
            Path(args.output).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CommandError(f"-o {args.output}: cannot create the folder ({exc.strerror or exc})") from exc
    inputs = {Path(f).resolve() for f in files} | {Path(f).resolve() for f in companions}
    outputs = _output_names(files, args, several)
    csv_path = None
    if files:
        csv_path = Path(args.csv) if args.csv else outputs[files[0]].parent / "pattern_areas.csv"
        _check_writable(csv_path, inputs, args.overwrite, "--csv")
    rows, done = [], 0
    for file in files:
        try:
            out = outputs[file]
            _check_writable(out, inputs, args.overwrite, "labels file")
            crystal_out = _crystal_name(out) if args.crystal else None
            if crystal_out is not None:
                _check_writable(crystal_out, inputs, args.overwrite, "crystal labels file")
            png = None
            if args.png:
                png = Path(args.png) if not several else out.with_suffix(".png")
                _check_writable(png, inputs, args.overwrite, "--png")
            image = _load_image(file, args.signal_index, args.reader)
            start = time.perf_counter()
            seg = symmetry_segmentation(image, show_progressbar=not args.quiet, **_segmentation_kwargs(args))
            elapsed = time.perf_counter() - start
            seg.labels.save(out, overwrite=True)
            if png is not None:
                _save_overlay(image, seg.labels, str(png))
            crystal_line = None
            if crystal_out is not None:
                try:
                    crystal = seg.crystal_labels()
                except ValueError as exc:  # no lattice: crystallinity is not defined
                    crystal_line = f"  crystal labels not written: {exc}"
                else:
                    crystal.save(crystal_out, overwrite=True)
                    fraction = float(crystal.metadata.Crystallinity.crystal_fraction)
                    crystal_line = f"  crystalline: {fraction:.1%} -> {crystal_out}"
            rows.extend(_area_rows(file, seg))
            done += 1
            if not args.quiet:
                fractions = ", ".join(f"{k}: {n / seg.pattern_sizes.sum():.1%}" for k, n in enumerate(seg.pattern_sizes))
                noun = "pattern" if seg.n_patterns == 1 else "patterns"
                chosen = ""
                if seg.n_patterns_selection is not None:  # n_patterns "auto"
                    chosen = f", chosen (stability {seg.n_patterns_selection['stability']:.2f})"
                print(f"{file}: {seg.n_patterns} {noun}{chosen} ({fractions}) in {elapsed:.2f} s -> {out}")
                print(f"  {seg.describe_parameters()}")
                if crystal_line:
                    print(crystal_line)
        except CommandError as exc:
            failures += 1
            _fail(str(exc))
        except (ValueError, TypeError) as exc:
            failures += 1
            _fail(f"{file}: {exc}")
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop the batch
            failures += 1
            _fail(f"{file}: {type(exc).__name__}: {exc}")
    if rows:
        try:
            _write_csv(csv_path, rows)
            if not args.quiet:
                print(f"pattern areas of {done} file(s) -> {csv_path}")
        except OSError as exc:
            failures += 1
            _fail(f"--csv {csv_path}: cannot write it ({exc.strerror or exc})")
    total = len(files) + len(unmatched)
    if failures and not args.quiet:
        print(f"symseg: {failures} of {total} file(s) failed", file=sys.stderr)
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
    seg.add_argument("--file-format", "--reader", dest="reader", default=None,
                     help="RosettaSciIO reader to use, e.g. HSPY (default: from the file; an .hdf5 file several readers "
                          "claim is read as HSPY)")
    seg.add_argument("--crystal", action="store_true",
                     help="also write crystal / not-crystal labels (1 = any grain or phase, 0 = vacuum, amorphous, "
                          "contamination) as <input>_crystal next to the labels file")
    seg.add_argument("--overwrite", action="store_true", help="replace existing output files (never the inputs)")
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
