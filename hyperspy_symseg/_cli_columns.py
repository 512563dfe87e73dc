"""The ``symseg columns`` subcommand: atom columns of an image file -> CSV (+ overlay PNG).

Wire it into the main parser with ``add_columns_parser(subparsers, load_image, error)``:
the main CLI passes its file loader and its one-line error class, so this module never
imports the CLI back; bad input is reported as that error (exit code 1).
"""

from __future__ import annotations

import time
from pathlib import Path


def add_columns_parser(subparsers, load_image, error) -> None:
    """Add ``columns FILE --csv out.csv [--png overlay.png] ...`` to an argparse subparsers object."""
    p = subparsers.add_parser(
        "columns", help="find and refine the atom columns of an image file; table as CSV, overlay as PNG"
    )
    p.add_argument("file", metavar="FILE", help="image file (any RosettaSciIO format)")
    p.add_argument("--csv", help="CSV table of the columns (default: <input>_columns.csv next to the input)")
    p.add_argument("--png", help="also write the image with the columns on top (PNG)")
    p.add_argument("--min-separation", type=float, default=None,
                   help="shortest distance between columns in px (default: from the lattice analysis)")
    p.add_argument("--sigma", type=float, default=None, help="column width guess in px (default: fitted)")
    p.add_argument("--noise", default="auto", choices=["auto", "poisson", "gaussian"],
                   help="fit objective (default: auto = Poisson for integer counts)")
    p.add_argument("--circular", action="store_true", help="fit circular instead of elliptical Gaussians")
    p.add_argument("--min-snr", type=float, default=None, help="minimum amplitude / standard error (default: 5)")
    p.add_argument("--denoise", action="store_true", help="denoise (lattice non-local means) before the search")
    p.add_argument("--signal-index", type=int, default=None, help="which signal of a multi-signal file")
    p.add_argument("--file-format", "--reader", dest="reader", default=None, help="RosettaSciIO reader to use, e.g. HSPY (default: from the file)")
    p.add_argument("--all-frames", action="store_true",
                   help="a stack: every frame (CSV with a frame column; lattice of the first frame); "
                        "default: the first frame only")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument("-q", "--quiet", action="store_true", help="no summary")
    p.set_defaults(func=lambda args: cmd_columns(args, load_image, error))


def _writable(path: Path, args, error) -> Path:
    """``path`` if it may be written: never the input, an existing file only with --overwrite."""
    if path.resolve() == Path(args.file).resolve():
        raise error(f"{path}: refusing to overwrite the input file")
    if path.exists() and not args.overwrite:
        raise error(f"{path} exists; pass --overwrite to replace it")
    return path


def cmd_columns(args, load_image, error) -> int:
    from .atom_columns import denoise, find_atom_columns

    CommandError = error
    image = load_image(args.file, args.signal_index, args.reader)
    stack = image if args.all_frames and image.axes_manager.navigation_dimension else None
    if image.axes_manager.navigation_dimension:
        image = image.inav[(0,) * image.axes_manager.navigation_dimension]
    kwargs = {"min_separation": args.min_separation, "sigma": args.sigma, "noise": args.noise,
              "elliptical": not args.circular}
    if args.min_snr is not None:
        kwargs["min_snr"] = args.min_snr
    start = time.perf_counter()
    try:
        source = image if stack is None else stack
        target = denoise(source) if args.denoise else source
        cols = find_atom_columns(target, **kwargs)
    except (ValueError, TypeError) as exc:
        raise CommandError(f"{args.file}: {exc}") from exc
    elapsed = time.perf_counter() - start
    csv_path = Path(args.csv) if args.csv else Path(args.file).with_name(Path(args.file).stem + "_columns.csv")
    _writable(csv_path, args, error)
    if args.png:
        _writable(Path(args.png), args, error)
    cols.to_csv(csv_path)
    first = cols if stack is None else cols[0]
    if args.png:
        _save_overlay(image, first, args.png)
    if not args.quiet:
        frames = "" if stack is None else f" over {len(cols)} frames"
        print(f"{args.file}: {len(cols.table)} columns{frames} in {elapsed:.2f} s (min separation "
              f"{cols.parameters['min_separation']:.3g} px, sigma {first.parameters['sigma']:.3g} px) -> {csv_path}")
    return 0


def _save_overlay(image, cols, png: str) -> None:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 7))
    ax.imshow(image.data, cmap="gray")
    t = cols.table
    ax.scatter(t["x_px"], t["y_px"], s=6, c="tab:red", linewidths=0)
    ax.set_title(f"{len(cols)} atom columns")
    ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    plt.close(fig)
