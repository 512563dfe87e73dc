"""The column table (a NumPy structured array), CSV export and per-pattern lattice vectors.

No HyperSpy here: positions arrive in pixels with the axes' scale and offset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage


def cKDTree(*args, **kwargs):  # noqa: N802 - scipy.spatial on first use, not in every import (~0.1 s, ~10 MiB)
    from scipy.spatial import cKDTree as tree

    return tree(*args, **kwargs)

#: (name, dtype, description) of every table field, in order.
TABLE_FIELDS = (
    ("y_px", "f8", "row position of the fitted centre, px"),
    ("x_px", "f8", "column position of the fitted centre, px"),
    ("y", "f8", "calibrated y position (axis units)"),
    ("x", "f8", "calibrated x position (axis units)"),
    ("y_err_px", "f8", "standard error of y_px"),
    ("x_err_px", "f8", "standard error of x_px"),
    ("com_y_px", "f8", "centre-of-mass row position, px"),
    ("com_x_px", "f8", "centre-of-mass column position, px"),
    ("amplitude", "f8", "peak height above the local background (image units)"),
    ("amplitude_err", "f8", "standard error of the amplitude"),
    ("background", "f8", "local background under the column (image units)"),
    ("sigma_major_px", "f8", "Gaussian standard deviation along the major axis, px"),
    ("sigma_minor_px", "f8", "Gaussian standard deviation along the minor axis, px"),
    ("angle_deg", "f8", "major axis direction, degrees counter-clockwise from +x as displayed"),
    ("integrated_intensity", "f8", "2 pi amplitude sigma_major sigma_minor (image units x px^2)"),
    ("snr", "f8", "amplitude / amplitude_err"),
    ("chi2", "f8", "reduced (Pearson) chi-square of the fit"),
    ("n_iter", "i4", "Levenberg-Marquardt iterations of the last sweep"),
    ("n_pixels", "i4", "pixels in the fit window"),
    ("converged", "?", "the fit converged"),
    ("width_fixed", "?", "a faint column fitted with the median width (second chance)"),
    ("split", "?", "one of two merged columns split by the two-column test"),
    ("label", "i4", "segmentation label at the column (-1 without segmentation)"),
)


def table_dtype() -> np.dtype:
    return np.dtype([(n, t) for n, t, _ in TABLE_FIELDS])


def build_table(
    result: dict[str, np.ndarray],
    scale: tuple[float, float] = (1.0, 1.0),
    offset: tuple[float, float] = (0.0, 0.0),
    labels: np.ndarray | None = None,
) -> np.ndarray:
    """Structured array (see :data:`TABLE_FIELDS`) from :func:`locate_columns` output.

    ``scale`` and ``offset`` are ``(y, x)`` axis calibrations; ``labels`` an (H, W)
    integer image (the label of the pixel nearest to each centre is recorded).
    """
    n = len(result["y"])
    t = np.zeros(n, dtype=table_dtype())
    t["y_px"], t["x_px"] = result["y"], result["x"]
    t["y"] = offset[0] + scale[0] * result["y"]
    t["x"] = offset[1] + scale[1] * result["x"]
    t["y_err_px"], t["x_err_px"] = result["y_err"], result["x_err"]
    t["com_y_px"], t["com_x_px"] = result["com_y"], result["com_x"]
    t["amplitude"], t["amplitude_err"] = result["amplitude"], result["amplitude_err"]
    t["background"] = result["background"]
    t["sigma_major_px"], t["sigma_minor_px"] = result["sigma_major"], result["sigma_minor"]
    t["angle_deg"] = result["angle"]
    t["integrated_intensity"] = result["integrated_intensity"]
    t["snr"], t["chi2"] = result["snr"], result["chi2"]
    t["n_iter"] = np.nan_to_num(result["n_iter"], nan=0).astype(np.int32)
    t["n_pixels"] = np.nan_to_num(result["n_pixels"], nan=0).astype(np.int32)
    t["converged"] = result["status"] == 0
    t["width_fixed"] = np.nan_to_num(result.get("width_fixed", np.zeros(n)), nan=0) > 0
    t["split"] = np.nan_to_num(result.get("split", np.zeros(n)), nan=0) > 0
    t["label"] = -1
    if labels is not None and n:
        h, w = labels.shape
        iy = np.clip(np.rint(result["y"]).astype(np.int64), 0, h - 1)
        ix = np.clip(np.rint(result["x"]).astype(np.int64), 0, w - 1)
        t["label"] = labels[iy, ix]
    return t


def write_csv(table: np.ndarray, path, extra_header: str = "") -> None:
    """Write the table as CSV with a header row of field names."""
    names = table.dtype.names
    fmt = []
    for name in names:
        kind = table.dtype[name].kind
        fmt.append("%d" if kind in "iub" else "%.10g")
    rows = np.column_stack([table[n].astype(np.float64) if table.dtype[n].kind == "f"
                            else table[n].astype(np.int64) for n in names]) if len(table) else \
        np.zeros((0, len(names)))
    with open(path, "w", newline="") as f:
        if extra_header:
            for line in extra_header.splitlines():
                f.write(f"# {line}\n")
        f.write(",".join(names) + "\n")
        if len(table):
            np.savetxt(f, rows, delimiter=",", fmt=fmt)


@dataclass
class PatternLattice:
    """Lattice vectors of the columns of one pattern (pixels, (dy, dx) rows).

    ``vectors`` (2, 2) mean of the two shortest lattice translations, ``spread`` (2, 2)
    their standard deviation over the columns, ``n_pairs`` (2,) how many column pairs
    measured each, ``n_columns`` the columns of the pattern. NaN when fewer than 6
    columns or no two independent translations are found.
    """

    label: int
    n_columns: int
    vectors: np.ndarray
    spread: np.ndarray
    n_pairs: np.ndarray


def _nan_lattice(label: int, n: int) -> PatternLattice:
    return PatternLattice(label, n, np.full((2, 2), np.nan), np.full((2, 2), np.nan), np.zeros(2, int))


def lattice_vectors_of_points(points: np.ndarray, label: int = -1, min_support: float = 0.6) -> PatternLattice:
    """The two shortest translations under which most columns map onto columns.

    All displacement vectors from each column to its neighbours within 2.6 nearest-
    neighbour distances are histogrammed; a mode that at least ``min_support`` (times
    the best mode's support) of the columns share is a lattice translation, so vectors
    between inequivalent columns of a multi-column cell (honeycomb A->B) are ignored.
    The shortest such mode and the shortest one not parallel to it are refined as the
    mean of the displacements near them.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    n = len(pts)
    if n < 6:
        return _nan_lattice(label, n)
    tree = cKDTree(pts)
    d, _ = tree.query(pts, k=2)
    dnn = float(np.median(d[:, 1]))
    if not dnn > 0:
        return _nan_lattice(label, n)
    reach = 2.6 * dnn
    pairs = tree.query_pairs(reach, output_type="ndarray")
    if len(pairs) == 0:
        return _nan_lattice(label, n)
    disp = pts[pairs[:, 1]] - pts[pairs[:, 0]]
    disp = np.concatenate([disp, -disp])
    owner = np.concatenate([pairs[:, 0], pairs[:, 1]])
    # density of displacement vectors on a grid
    b = 0.08 * dnn
    nb = int(math.ceil(reach / b)) + 2
    hist, _, _ = np.histogram2d(disp[:, 0], disp[:, 1], bins=2 * nb + 1,
                                range=[[-(nb + 0.5) * b, (nb + 0.5) * b]] * 2)
    hist = ndimage.gaussian_filter(hist, 1.5)
    peaks = (hist == ndimage.maximum_filter(hist, size=5)) & (hist > 0)
    iy, ix = np.nonzero(peaks)
    modes = np.column_stack([(iy - nb) * b, (ix - nb) * b])
    lengths = np.hypot(modes[:, 0], modes[:, 1])
    sel = lengths > 0.5 * dnn
    modes, lengths = modes[sel], lengths[sel]
    if len(modes) < 2:
        return _nan_lattice(label, n)
    dtree = cKDTree(disp)
    tol = 0.25 * dnn

    def refine(v):
        idx = dtree.query_ball_point(v, tol)
        if not idx:
            return v, np.full(2, np.nan), 0, 0.0
        sub = disp[idx]
        support = len(np.unique(owner[idx])) / n
        return sub.mean(0), sub.std(0), len(idx), support

    refined = [refine(v) for v in modes]
    support = np.array([r[3] for r in refined])
    ok = support >= min_support * support.max()
    order = [k for k in np.argsort(lengths, kind="stable") if ok[k]]
    if not order:
        return _nan_lattice(label, n)
    v1 = refined[order[0]]
    v2 = None
    for k in order[1:]:
        v = refined[k][0]
        cross = abs(v1[0][0] * v[1] - v1[0][1] * v[0])
        if cross > 0.3 * np.hypot(*v1[0]) * np.hypot(*v):
            v2 = refined[k]
            break
    if v2 is None:
        return _nan_lattice(label, n)
    a1 = _canonical(v1[0])
    a2 = np.asarray(v2[0], dtype=np.float64)
    if a1 @ a2 < 0:  # the reduced cell: 60-90 degrees between a1 and a2
        a2 = -a2
    vec = np.array([a1, a2])
    spread = np.array([v1[1], v2[1]])
    return PatternLattice(label, n, vec, spread, np.array([v1[2], v2[2]]))


def _canonical(v: np.ndarray) -> np.ndarray:
    """Choose the sign of a lattice vector: pointing right (dx > 0), or down if vertical."""
    v = np.asarray(v, dtype=np.float64)
    if v[1] < -1e-9 or (abs(v[1]) <= 1e-9 and v[0] < 0):
        return -v
    return v


def pattern_lattices(positions: np.ndarray, labels: np.ndarray) -> dict[int, PatternLattice]:
    """:func:`lattice_vectors_of_points` for the columns of each label (>= 0)."""
    out = {}
    for lab in np.unique(labels):
        if lab < 0:
            continue
        out[int(lab)] = lattice_vectors_of_points(positions[labels == lab], int(lab))
    return out
