"""Lattice analysis, steps 3-5: a reciprocal basis from Bragg peaks, its real-space dual.

NumPy only (no HyperSpy). Indexing of the peaks by candidate bases, least-squares and
fine-grid refinement, Lagrange-Gauss reduction, the tests that tell a lattice from chance
alignments of noise peaks, and the Patterson column separation. The driver is
:func:`hyperspy_symseg.lattice.find_lattice`.
"""

from __future__ import annotations

import numpy as np

from ._lattice_spectrum import _Peaks, _zoom
from ._threading import single_threaded_blas

#: An indexed peak lies within this many frequency bins of ``h b1 + k b2`` ...
INDEX_TOLERANCE = 0.75
#: ... plus this fraction of ``|h b1 + k b2|`` (scan distortion and drift stretch high orders).
RELATIVE_TOLERANCE = 0.01
#: Bases indexing at least this fraction of the best basis's power count as equally good ...
SCORE_TOLERANCE = 0.95
#: ... and at least this fraction are compared by how many of their own low-order
#: reflections are present.
OCCUPANCY_SHARE = 0.6
#: Highest Miller index used for indexing.
MAX_ORDER = 12


#: The lowest-order reflections of a reciprocal basis, one of each +-pair.
_LOW_ORDERS = np.array([[1, 0], [0, 1], [1, 1], [1, -1], [2, 0], [0, 2]])
#: Every reflection of a lattice up to order 6 (aliases of its harmonics are no new lattice).
_ORDERS = np.array([[h, k] for h in range(-6, 7) for k in range(-6, 7) if (h, k) != (0, 0)])


def _index(peaks_k, basis, tolerance):
    """(hk int (n, 2), indexed bool (n,)) of peaks against a reciprocal basis (rows b1, b2)."""
    hk_float = peaks_k @ np.linalg.inv(basis)
    hk = np.rint(hk_float)
    fit = hk @ basis
    residual = np.linalg.norm(peaks_k - fit, axis=1)
    ok = (residual <= tolerance + RELATIVE_TOLERANCE * np.linalg.norm(fit, axis=1)) & (np.abs(hk).max(axis=1) <= MAX_ORDER) & (np.abs(hk).sum(axis=1) > 0)
    return hk.astype(np.int64), ok


def _best_basis(peaks: _Peaks, explained: np.ndarray, max_period: float, rejected=(), n_candidates: int = 14):
    """The reciprocal basis indexing most of the unexplained peaks' excess power, or None.

    Candidate basis vectors are the strongest unexplained peaks and a few explained ones
    (two grains may share reflections, e.g. along a twin's mirror line); only the
    unexplained power counts in the score.
    """
    idx = np.concatenate([np.flatnonzero(~explained)[:n_candidates], np.flatnonzero(explained)[:6]])
    if np.count_nonzero(~explained) == 0:
        return None
    k_av = peaks.k
    w_av = peaks.excess * ~explained
    tolerance = INDEX_TOLERANCE * peaks.bin_size
    # Pairs of candidates, one sign each: (+-b1, +-b2) span one lattice with the same
    # score, |det| and reduced basis (sign flips are exact), and the pair with both signs
    # + comes first among them, so the pairs of the mirrored list [k, -k] (four times as
    # many) would choose the very same basis.
    cand = peaks.k[idx]
    i, j = np.triu_indices(len(cand), 1)
    bases = np.stack([cand[i], cand[j]], axis=1)  # (pairs, 2, 2)
    det = np.abs(np.linalg.det(bases))
    scale = np.maximum(np.linalg.norm(cand[i], axis=1), np.linalg.norm(cand[j], axis=1))
    # Non-collinear by more than about one bin at the pair's scale.
    good = det >= 2.0 * tolerance * scale
    if not good.any():  # only collinear peaks: a one-dimensional periodicity
        return None
    bases, det = bases[good], det[good]
    hk = np.rint(k_av[None, :, :] @ np.linalg.inv(bases))  # (pairs, peaks, 2)
    fit = hk @ bases
    residual = _norm2(k_av[None] - fit)
    order = np.maximum(np.abs(hk[..., 0]), np.abs(hk[..., 1]))
    ok = (residual <= tolerance + RELATIVE_TOLERANCE * _norm2(fit)) & (order <= MAX_ORDER) & (order > 0)
    score = (ok * w_av[None, :]).sum(axis=1) / float(w_av.sum())
    # Among the bases indexing a good share of the best's power, the one whose own
    # low-order reflections are present (a supercell leaves most of them empty: a finer
    # reciprocal lattice also indexes stray peaks at its extra points), then the
    # coarsest reciprocal lattice (the smallest real cell). Cells longer than max_period
    # (e.g. from two points of one streak) are not lattices.
    keep = np.flatnonzero(score >= OCCUPANCY_SHARE * score.max()) if score.max() > 0 else np.array([], int)
    if not keep.size:
        return None
    # Every candidate at once (the same operations as one at a time, so the same numbers):
    # the reduced basis, its real cell's longest vector, whether it was rejected before,
    # and how many of its four lowest-order reflections are present.
    reduced = _reduce_reciprocal_many(bases[keep])
    longest = np.linalg.norm(np.linalg.inv(reduced).transpose(0, 2, 1), axis=2).max(axis=1)
    usable = longest <= max_period
    if len(rejected):
        usable &= ~_close_to_any(reduced, np.asarray(rejected, dtype=np.float64))
    b1, b2 = reduced[:, 0], reduced[:, 1]
    g = np.stack([b1, b2, b1 + b2, b1 - b2], axis=1)  # _LOW_ORDERS[:4] @ basis, exactly
    present = peaks.ratio_at(g.reshape(-1, 2)).reshape(len(keep), 4) >= peaks.threshold
    occupancy = present.sum(axis=1)
    equally_good = score >= SCORE_TOLERANCE * score.max()
    best_key, best = None, None
    for q in np.flatnonzero(usable):
        p = keep[q]
        key = (int(occupancy[q]), equally_good[p], det[p])
        if best_key is None or key > best_key:
            best_key, best = key, q
    return None if best is None else reduced[best]


def _norm2(v):
    """``numpy.linalg.norm(v, axis=-1)`` of 2-vectors, the same sum (``x*x + y*y``) without the reduction's overhead."""
    return np.sqrt(v[..., 0] * v[..., 0] + v[..., 1] * v[..., 1])


def _reduce_reciprocal_many(bases):
    """:func:`_reduce_reciprocal` of a stack of bases (m, 2, 2)."""
    real = np.linalg.inv(bases).transpose(0, 2, 1)
    return np.linalg.inv(np.stack([lagrange_reduce(r) for r in real])).transpose(0, 2, 1)


def _close_to_any(a, b):
    """(m,) whether each of ``a`` (m, 2, 2) is ``numpy.allclose`` to one of ``b`` (r, 2, 2) (finite values)."""
    diff = np.abs(a[:, None] - b[None])
    return np.all(diff <= 1e-8 + 1e-5 * np.abs(b)[None], axis=(2, 3)).any(axis=1)


def _reduce_reciprocal(basis):
    """A basis of the same reciprocal lattice whose real-space dual is Lagrange-reduced."""
    real = lagrange_reduce(np.linalg.inv(basis).T)
    return np.linalg.inv(real).T


def lagrange_reduce(vectors: np.ndarray) -> np.ndarray:
    """The two shortest vectors of the 2D lattice spanned by the rows of ``vectors``.

    Returns a (2, 2) float64 array with ``|a1| <= |a2|`` and an angle of 60-90
    degrees between them (``a1 . a2 >= 0``), ``a1`` pointing into ``dx >= 0`` (or
    ``dy < 0`` when ``dx == 0``), so the result is unique for a given lattice up to
    the lattice's own symmetry.
    """
    a, b = (np.asarray(v, dtype=np.float64).copy() for v in vectors)
    for _ in range(100):
        if b @ b < a @ a:
            a, b = b, a
        m = round(float(a @ b) / float(a @ a))
        if m == 0:
            break
        b = b - m * a
    if b @ b < a @ a:
        a, b = b, a
    if a[1] < 0 or (a[1] == 0 and a[0] > 0):
        a = -a
    if a @ b < 0:
        b = -b
    return np.array([a, b])


def _invertible(m: np.ndarray) -> bool:
    """Whether a 2 x 2 basis spans two dimensions (not collinear to rounding)."""
    return bool(np.all(np.isfinite(m)) and abs(np.linalg.det(m)) > 1e-9 * np.prod(np.linalg.norm(m, axis=1)))


def _refine(peaks_k, weights, basis, tolerance):
    """Least-squares reciprocal basis over all peaks it indexes; (basis, hk, indexed)."""
    for _ in range(3):
        hk, ok = _index(peaks_k, basis, tolerance)
        if ok.sum() < 2:
            break
        sw = np.sqrt(weights[ok])[:, None]
        solution, *_ = np.linalg.lstsq(hk[ok] * sw, peaks_k[ok] * sw, rcond=None)
        if np.linalg.matrix_rank(hk[ok]) < 2 or not _invertible(solution):
            break  # keep the last basis that indexes (a collinear fit cannot be inverted)
        basis = solution
    hk, ok = _index(peaks_k, basis, tolerance)
    return basis, hk, ok


#: A lattice needs three of its six lowest-order peaks this many times the threshold
#: (a 1D periodicity: its peak).
STRONG = 3.0



def _is_lattice(peaks: _Peaks, reciprocal: np.ndarray, threshold: float, further: bool = False,
                taken: np.ndarray | None = None, streaks: np.ndarray | None = None) -> bool:
    """Whether a reciprocal basis is a lattice rather than chance alignments of noise peaks.

    At least three of the lowest-order reflections ``b1, b2, b1 + b2, b1 - b2, 2 b1,
    2 b2``, spanning two dimensions, stand ``STRONG * threshold`` above the background.
    Noise and amorphous rings reach ratios of ~5-10 at their strongest bins, crystals
    hundreds (thousands in real images); a structure factor may weaken one of them
    (e.g. ``b2`` of STO [110] in ABF), so three are enough.

    A ``further`` lattice (a grain next to the dominant one, which occupies less of the
    image and so has weaker peaks) needs two strong reflections spanning two dimensions
    and a third above the plain ``threshold``: a second graphene grain's ``b1 - b2`` is
    often only ~5 times its background.

    ``taken``: (n, 2) peaks (cycles/px) of the lattices already found; a reflection on
    one of them is no evidence for another lattice (harmonics of a dumbbell or a
    superstructure would otherwise pass for one); within 3 bins, since a tapered peak's
    main lobe is 2 bins wide on either side and the ratio is looked up within one bin of
    ``g``. ``streaks``: (m, 2) the detected peaks
    of those lattices; scan distortions (line jitter) smear every Bragg peak along the
    slow-scan direction, so a reflection sharing the ``kx`` of one is no evidence either,
    nor one close to a much stronger one of them (a side lobe).
    """
    g = _LOW_ORDERS @ reciprocal
    ratio = peaks.ratio_at(g)
    if taken is not None and len(taken):
        ratio = np.where(_on_taken(g, taken, 3.0 * peaks.bin_size), 0.0, ratio)
    if streaks is not None and len(streaks):
        on_streak = (np.abs(np.abs(g[:, None, 1]) - np.abs(streaks[None, :, 1])) <= 0.25 * peaks.bin_size).any(axis=1)
        # Side lobes: a grain cut off by its boundary spreads its peaks over several
        # bins along the boundary normal; a reflection near a much stronger earlier
        # peak is one of those.
        strong = peaks.ratio_at(streaks)
        near = np.minimum(np.linalg.norm(g[:, None] - streaks[None], axis=-1),
                          np.linalg.norm(g[:, None] + streaks[None], axis=-1)) <= SIDE_LOBE_BINS * peaks.bin_size
        shadowed = (near & (strong[None, :] >= SIDE_LOBE_RATIO * ratio[:, None])).any(axis=1)
        ratio = np.where(on_streak | shadowed, 0.0, ratio)
    strong = ratio >= STRONG * threshold
    if further:
        return bool(strong.sum() >= 2 and np.linalg.matrix_rank(_LOW_ORDERS[strong]) == 2
                    and (ratio >= threshold).sum() >= 3)
    return bool(strong.sum() >= 3 and np.linalg.matrix_rank(_LOW_ORDERS[strong]) == 2)


def _on_taken(g: np.ndarray, taken: np.ndarray, tolerance: float) -> np.ndarray:
    """(n,) whether each frequency ``g`` (n, 2) is, modulo the sampling (aliasing), +- a taken one."""
    d = g[:, None, :] - taken[None]
    s = g[:, None, :] + taken[None]
    d -= np.rint(d)
    s -= np.rint(s)
    return np.minimum(np.linalg.norm(d, axis=-1), np.linalg.norm(s, axis=-1)).min(axis=1) <= tolerance


#: A reflection within this many bins of an earlier lattice's peak at least
#: SIDE_LOBE_RATIO times stronger is a side lobe of that peak, no new lattice.
SIDE_LOBE_BINS = 8.0
SIDE_LOBE_RATIO = 4.0

#: Peaks per lattice refined on a fine frequency grid (the strongest ones).
ZOOM_PEAKS = 8


def _zoom_basis(image, corners, tile_shape, k, hk, weights, basis):
    """The reciprocal basis from the strongest indexed peaks, refined on a fine grid."""
    top = np.argsort(-weights, kind="stable")[:ZOOM_PEAKS]
    if np.linalg.matrix_rank(hk[top]) < 2:
        return basis
    with single_threaded_blas():  # thin complex products: 2 BLAS threads made this 7x slower on a busy machine
        refined = _zoom(np.asarray(image, dtype=np.float32), corners, tile_shape, k[top])
    sw = np.sqrt(weights[top])[:, None]
    solution, *_ = np.linalg.lstsq(hk[top] * sw, refined * sw, rcond=None)
    return solution


def _patterson_min_separation(vectors, hk, excess, resolution=24):
    """Shortest distance between columns from the Patterson function of the indexed peaks."""
    # Patterson over the cell: P(r) = sum |F_hk|^2 cos(2 pi g.r), with g.r = hk . (fractional r).
    f = np.linspace(0.0, 1.0, resolution, endpoint=False)
    frac = np.stack(np.meshgrid(f, f, indexing="ij"), axis=-1).reshape(-1, 2)
    phase = 2.0 * np.pi * frac @ hk.T.astype(np.float64)  # (points, peaks): g.r = hk . frac
    pat = (np.cos(phase) * excess[None, :]).sum(axis=1).reshape(resolution, resolution)
    top = pat[0, 0]
    low = pat.min()
    if not top > low:
        return float(np.min(np.linalg.norm(vectors, axis=1)))
    norm = (pat - low) / (top - low)
    # Local maxima (periodic) above a third of the origin peak, other than the origin.
    import scipy.ndimage  # on first use: import hyperspy_symseg does not need it

    peaks = (norm == scipy.ndimage.maximum_filter(norm, size=3, mode="wrap")) & (norm > 0.33)
    peaks[0, 0] = False
    lengths = [float(np.min(np.linalg.norm(vectors, axis=1)))]
    for i, j in zip(*np.nonzero(peaks)):
        base = np.array([f[i], f[j]])
        for di in (-1, 0):
            for dj in (-1, 0):
                r = (base + (di, dj)) @ vectors
                lengths.append(float(np.linalg.norm(r)))
    return float(min(lengths))


#: A weak further lattice's vectors are within this factor of the dominant one's.
WEAK_CELL_FACTOR = 1.5


def _similar_cell(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two lattices have shortest and longest vectors within ``WEAK_CELL_FACTOR``."""
    la, lb = np.sort(np.linalg.norm(a, axis=1)), np.sort(np.linalg.norm(b, axis=1))
    return bool(np.all(la <= WEAK_CELL_FACTOR * lb) and np.all(lb <= WEAK_CELL_FACTOR * la))


#: A further lattice that shares a lattice vector with an earlier one and whose other
#: vector is more than this many times the earlier one's longest is a modulation of
#: that lattice, not a grain: an intensity step along an interface streaks every Bragg
#: peak, and a Bragg peak plus a point of its streak index as a cell of (a, ~8 a) (the
#: suite's interface with an intensity step at 15 px per period found a = 15, 124 px).
MODULATION_RATIO = 3.0


def _modulation(a: np.ndarray, b: np.ndarray, tolerance: float = 0.03) -> bool:
    """Whether lattice ``a`` is ``b``'s vector plus a much longer one (see :data:`MODULATION_RATIO`)."""
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return False
    longest = float(np.linalg.norm(b, axis=1).max())
    for i in (0, 1):
        shared, other = a[i], a[1 - i]
        if np.linalg.norm(other) <= MODULATION_RATIO * longest:
            continue
        for v in b:
            if min(np.linalg.norm(shared - v), np.linalg.norm(shared + v)) <= tolerance * np.linalg.norm(v):
                return True
    return False


def _related(a: np.ndarray, b: np.ndarray, tolerance: float = 0.06) -> bool:
    """Whether one 2D lattice is a sublattice of the other (a superstructure, or the same lattice)."""
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return False
    for x, y in ((a, b), (b, a)):
        m = x @ np.linalg.inv(y)
        if np.all(np.abs(m - np.rint(m)) < tolerance):
            return True
    return False


#: A lattice's basis is a supercell of the true one when its reflections (those no other
#: lattice found indexes) off every n-th row of one index, n = 2 or 3, carry at most this
#: share of their power: a finer reciprocal lattice also indexes the other grains' stray
#: peaks, and at a triple junction at 40 px per period (``bench_accuracy.py``) the square
#: grain came out as (40.6, 120.4) px with none of its own power off every third row of
#: its second index; the automatic patch followed the 120 px (96 px instead of 32). A
#: genuine superstructure's extra reflections carry several per cent and are kept.
SUPERCELL_SHARE = 0.01
#: ... and when at least this many of its own reflections lie on the coarser rows off the zero row.
SUPERCELL_MIN_PEAKS = 3


def coarsest_reciprocal(reciprocal: np.ndarray, hk: np.ndarray, power: np.ndarray) -> np.ndarray | None:
    """The reciprocal basis without false supercell rows (see :data:`SUPERCELL_SHARE`), or None if unchanged.

    ``hk`` (n, 2) int: the indices against ``reciprocal`` (rows b1, b2) of the lattice's own
    peaks, ``power`` (n,) their excess power.
    """
    basis = np.array(reciprocal, dtype=np.float64)
    hk = np.array(hk, dtype=np.int64)
    total = float(power.sum())
    if total <= 0:
        return None

    def coarser(axis, n):  # no more than SUPERCELL_SHARE of the power off every n-th row of index ``axis``
        off = hk[:, axis] % n != 0
        # evidence: reflections on the coarser rows that are not on the zero row
        return (np.count_nonzero(~off & (hk[:, axis] != 0)) >= SUPERCELL_MIN_PEAKS
                and float(power[off].sum()) <= SUPERCELL_SHARE * total)

    any_change = False
    for _ in range(4):  # at most a 3 x 3 x 2 x 2 supercell is undone
        step = next(((axis, n) for axis in (0, 1) for n in (2, 3) if coarser(axis, n)), None)
        if step is None:
            break
        axis, n = step
        keep = hk[:, axis] % n == 0
        basis[axis] *= n
        hk, power = hk[keep], power[keep]
        hk[:, axis] //= n
        any_change = True
    return basis if any_change else None
