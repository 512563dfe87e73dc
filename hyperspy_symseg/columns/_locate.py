"""The column pipeline on a NumPy image: candidates -> centre of mass -> Gaussian fit -> tests.

No HyperSpy here: :func:`locate_columns` takes an (H, W) array and the minimum column
separation in pixels and returns plain arrays (see :data:`FIELDS`); the HyperSpy-facing
:func:`hyperspy_symseg.atom_columns.find_atom_columns` adds calibration, segmentation
labels and the lattice analysis.
"""

from __future__ import annotations

import math

import numpy as np

from . import _detect, _refine, _split
from ._motif import PAIR_PENALTY, elongation_vector, pair_agrees, shared_pair_vector


def cKDTree(*args, **kwargs):  # noqa: N802 - scipy.spatial on first use, not in every import (~0.1 s, ~10 MiB)
    from scipy.spatial import cKDTree as tree

    return tree(*args, **kwargs)

#: Default minimum significance of a column: fitted amplitude / its standard error.
MIN_SNR = 5.0
#: Default allowed widths relative to the median column width.
WIDTH_RANGE = (0.5, 2.0)
#: Sweeps stop when no column moves more than this (px): 1/30 of the Cramer-Rao bound at
#: 1000 counts, so it adds nothing measurable to the error.
SWEEP_TOL = 5e-4
#: Within 2 sigma of the image border the minor width must be at least this times sigma.
EDGE_MIN_WIDTH = 0.75
#: Columns whose fitted major / minor width ratio exceeds this are tested for being two
#: merged columns (:mod:`._split`); a pair 1.5 widths apart has 1.25 without noise.
SPLIT_RATIO = 1.15
#: When at least this share of the tested columns are two merged ones, merged pairs are
#: systematic (a dumbbell lattice) and a split needs the BIC penalty, ...
SPLIT_SYSTEMATIC = 0.25
#: ... and at least this share of all the columns (one passing column of two tested is
#: no lattice) ...
SPLIT_SYSTEMATIC_ALL = 0.03
#: ... else this many times the BIC penalty (a sporadic split: noise on a round column
#: reached 1.0-1.9 BIC on the bench scenes at 8 and 30 counts, 0.5 px scan jitter at
#: 1000 counts 2.6 with least squares), times the typical Pearson dispersion of the
#: one-column fits when it exceeds 1 (Poisson fits): model error that every column shows
#: (scan jitter shears each column row by row) grows with the dose, and a sporadic
#: two-column fit to a sheared column gains more than its own dispersion absorbs. With
#: 0.5 px jitter at 1000 counts the one-column fits' median dispersion is 2.9-7.5 on the
#: eight detection scenes and false splits reached 1.5-5.9 BIC (dispersion-scaled);
#: without jitter the dispersion is 1.0-1.3.
SPLIT_STRICT = 3.0
#: Rounds of split tests (later rounds: the rejected candidates next to a new split).
SPLIT_ROUNDS = 3
#: ... and with a pair vector shared by the lattice (each round the split neighbours model
#: the next candidates better).
SPLIT_ROUNDS_SHARED = 8
#: Levenberg-Marquardt iterations of each split test (the kept halves are refitted).
SPLIT_MAX_ITER = 40


def is_count_data(image: np.ndarray) -> bool:
    """True when every pixel is a non-negative integer (Poisson counts)."""
    img = np.asarray(image)
    if img.size == 0:
        return False
    if img.dtype.kind in "iu":
        return bool(img.min() >= 0)
    sample = img.ravel()[:: max(1, img.size // 200_000)]
    return bool(np.all(sample >= 0) and np.all(sample == np.round(sample)) and img.min() >= 0)


def estimate_sigma(
    image: np.ndarray, starts: np.ndarray, floor: np.ndarray, min_separation: float, poisson: bool,
    n_max: int = 80,
) -> float:
    """Median width (px) of circular Gaussians fitted to the ``n_max`` brightest candidates.

    80 columns give the median to about 1.5 % (0.1 px at 8 counts), far inside the factor
    2 of the width test; more only cost time on small images.
    """
    sel = starts[:n_max]
    if len(sel) == 0:
        return max(0.15 * min_separation, 0.5)
    s0 = max(0.18 * min_separation, 0.6)
    p0 = _refine.initial_params(sel, image, s0, floor)
    radius = max(0.45 * min_separation, 2.0)
    p, info, _ = _refine.fit_columns(
        image, p0, radius=radius, noise="poisson" if poisson else "gaussian", elliptical=False,
        max_sweeps=1, neighbour_reach=0.0, sigma_range=(0.3, max(radius, 1.0)),
    )
    ok = (info[:, 7] != _refine.STATUS_FAILED) & (p[:, 2] > 0)
    if not ok.any():
        return s0
    return float(np.median(1.0 / np.sqrt(p[ok, 4])))


def locate_columns(
    image: np.ndarray,
    min_separation: float,
    *,
    sigma: float | None = None,
    noise: str = "auto",
    elliptical: bool = True,
    window: float | None = None,
    min_snr: float = MIN_SNR,
    width_range: tuple[float, float] = WIDTH_RANGE,
    threshold: float = 3.0,
    smoothing: float | None = None,
    max_sweeps: int = 8,
    fit: bool = True,
    second_chance: bool = True,
    split: bool = True,
) -> dict[str, np.ndarray]:
    """Find and refine the atom columns of one image.

    Parameters
    ----------
    image : (H, W) ndarray of real numbers
    min_separation : float
        Shortest distance between two columns, px.
    sigma : float, optional
        Column width guess (px); default: estimated from the brightest candidates.
    noise : {"auto", "poisson", "gaussian"}
        Fit objective; "auto" is Poisson maximum likelihood for non-negative integer
        images (counts) and least squares otherwise.
    elliptical : bool
        Fit elliptical (7-parameter) or circular (5-parameter) Gaussians.
    window : float, optional
        Fit window radius in px; default ``3 * sigma``.
    min_snr : float
        A candidate is a column when its fitted amplitude is at least ``min_snr``
        standard errors.
    width_range : (float, float)
        Allowed widths relative to the median width.
    threshold : float
        Candidate threshold (see :func:`_detect.find_candidates`).
    fit : bool
        False stops after the centre of mass: every candidate above the detection
        threshold is returned (no significance test), the fitted fields are NaN.
    second_chance : bool
        Candidates rejected as too faint or of the wrong width are fitted again with
        the width fixed at the median (4 parameters: more significance for faint columns
        in thin regions) and kept when significant; ``width_fixed`` marks them.
    split : bool
        Columns whose fit is elongated (major / minor width above ``SPLIT_RATIO``) are
        fitted again as two columns with one shared shape and split when the
        information criterion says so (:mod:`._split`): two columns closer than about
        2.5 widths make one detection candidate. ``split`` marks both halves.

    Returns
    -------
    dict of (N,) arrays (see ``FIELDS``) and scalars ``sigma``, ``window``, ``noise``,
    ``n_candidates``, ``n_sweeps``.
    """
    img = np.ascontiguousarray(image, dtype=np.float64)
    if noise == "auto":
        noise = "poisson" if is_count_data(image) else "gaussian"
    poisson = noise == "poisson"
    cand = _detect.find_candidates(img, min_separation, smoothing=smoothing, threshold=threshold, poisson=poisson)
    starts = cand["positions"].astype(np.float64)
    floor = cand["floor"]
    r_com = max(1.0, 0.35 * min_separation)
    com = _detect.centre_of_mass(img, floor, starts, r_com)
    # candidates whose centres of mass meet are one column: keep the most significant
    # (candidates are sorted by significance), or two fits would share one column
    first = _dedupe(com, 0.5 * min_separation)
    starts, com = starts[first], com[first]
    cand = dict(cand, positions=cand["positions"][first])
    if sigma is None:
        sigma = estimate_sigma(img, com, floor, min_separation, poisson)
    sigma = float(sigma)
    if window is None:
        window = max(3.0 * sigma, 2.5)
    window = float(window)
    n = len(com)
    out = _empty(n)
    out["com_y"], out["com_x"] = com[:, 0], com[:, 1]
    meta = {"sigma": sigma, "window": window, "noise": noise, "n_candidates": n, "n_sweeps": 0}
    if not fit or n == 0:
        out["y"], out["x"] = com[:, 0].copy(), com[:, 1].copy()
        return _select(out, np.ones(n, bool) if not fit else np.zeros(0, bool)) | meta
    # the smoothed image underestimates a peak by sigma^2 / (sigma^2 + s^2)
    s_sm = max(0.7, 0.12 * min_separation) if smoothing is None else smoothing
    gain = (sigma**2 + s_sm**2) / sigma**2
    p0 = _refine.initial_params(com, img, sigma, floor)
    iy = np.clip(np.rint(com[:, 0]).astype(int), 0, img.shape[0] - 1)
    ix = np.clip(np.rint(com[:, 1]).astype(int), 0, img.shape[1] - 1)
    p0[:, 2] = np.maximum((cand["smoothed"][iy, ix] - floor[iy, ix]) * gain, 1e-6 * (np.abs(img).max() + 1e-12))
    # widths are bounded during the fit: a free width trades off against the background
    # in dense lattices (a broad Gaussian on a negative background)
    sig_range = (max(0.25, width_range[0] * sigma), width_range[1] * sigma)
    keep = np.ones(n, dtype=bool)
    params, info = p0, np.full((n, 8), np.nan)
    total_sweeps = 0
    refit = keep.copy()
    for _ in range(4):
        idx = np.flatnonzero(keep)
        params_k, info_k, sweeps = _refine.fit_columns(
            img, params[idx], radius=window, noise=noise, elliptical=elliptical, max_sweeps=max_sweeps,
            sigma_range=sig_range, max_shift=0.5 * min_separation, active=refit[idx], sweep_tol=SWEEP_TOL, tol=1e-5,
        )
        total_sweeps += sweeps
        params = params.copy()
        params[idx] = params_k
        fitted = idx[refit[idx]]
        info[fitted] = info_k[refit[idx]]
        good = _accept(params, info, com, keep, sigma, min_separation, min_snr, width_range, img.shape)
        if np.array_equal(good, keep):
            break
        # refit only the neighbours of the rejected candidates (whose model changed)
        dropped = keep & ~good
        keep = good
        near = cKDTree(params[dropped, :2]).query_ball_point(params[keep, :2], window + 4.0 * sigma,
                                                             return_length=True)
        refit = np.zeros(n, dtype=bool)
        refit[np.flatnonzero(keep)[near > 0]] = True
        if not refit.any():
            break
    if second_chance and n:
        keep, params, info, fixed = _second_chance(
            img, params, info, com, keep, sigma, window, min_separation, min_snr, noise, elliptical, sig_range)
    else:
        fixed = np.zeros(n, dtype=bool)
    halves = np.zeros(n, dtype=bool)
    if split and keep.any():
        params, info, com, keep, fixed, halves = _split_merged(
            img, params, info, com, keep, fixed, sigma, window, min_separation, min_snr, noise, elliptical, sig_range)
        if len(com) != n:
            out = _empty(len(com))
            out["com_y"], out["com_x"] = com[:, 0], com[:, 1]
    _fill(out, params, info)
    out["width_fixed"] = fixed.astype(np.float64)
    out["split"] = halves.astype(np.float64)
    if not elliptical:
        out["angle"][:] = np.nan  # a circle has no orientation
    meta["n_sweeps"] = total_sweeps
    return _select(out, keep) | meta


FIELDS = (
    "y", "x", "com_y", "com_x", "y_err", "x_err", "amplitude", "amplitude_err", "background", "background_err",
    "sigma_major", "sigma_minor", "angle", "integrated_intensity", "snr", "chi2", "n_iter", "n_pixels", "status",
    "a", "b", "c", "width_fixed", "split",
)


def _split_merged(img, params, info, com, keep, fixed, sigma, window, min_separation, min_snr, noise, elliptical,
                  sig_range, share_pairs=True):
    """Test the elongated kept columns for two merged columns; split and refit those that are.

    Merged pairs of a crystal are systematic (a dumbbell in every cell), noise that
    makes a round column look like two is sporadic: when fewer than ``SPLIT_SYSTEMATIC``
    of the tested columns (or ``SPLIT_SYSTEMATIC_ALL`` of all) pass the criterion, a split needs ``SPLIT_STRICT`` times the
    BIC penalty. After the first round, the rejected candidates next to a split are
    tested again (their neighbour model changed from one column to two).

    When the splits are systematic and most of them share one pair vector (the motif
    of the lattice, :func:`shared_pair_vector`), every candidate is tested again with
    its two columns started at that vector and a split must agree with it
    (:func:`pair_agrees`): a merged column whose fit is turned by its neighbours or by
    the width bound is otherwise split across the wrong axis.
    """
    n0 = len(params)
    halves = np.zeros(n0, dtype=bool)
    smaj, smin, _ = _refine.shape_from_precision(params[:, 4], params[:, 5], params[:, 6])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = smaj / smin
    if elliptical:
        # the image's typical elongation: when its columns are round (median ratio below
        # SPLIT_RATIO) a merged pair must also stand out of their spread (3 robust standard
        # deviations of log ratio: noise makes round columns look elongated at low dose)
        good = keep & ~fixed & np.isfinite(ratio)
        lr = np.log(ratio[good]) if good.any() else np.zeros(1)
        med = float(np.median(lr))
        limit = SPLIT_RATIO
        if med < math.log(SPLIT_RATIO):
            limit = max(limit, math.exp(med + 3.0 * 1.4826 * float(np.median(np.abs(lr - med)))))
        cand = good & (ratio > limit)
    else:
        cand = keep & ~fixed
        limit = SPLIT_RATIO
    penalty = None
    shared = None
    pairs = []
    radius = window + 0.5 * sigma
    model_error = 1.0
    if noise == "poisson":
        disp = info[keep & ~fixed, 4]
        disp = disp[np.isfinite(disp)]
        if disp.size:
            model_error = max(1.0, float(np.median(disp)))

    def refit_near(points):
        # the kept columns within a fit window of ``points`` (their neighbour model changed), refitted
        sel = np.flatnonzero(keep)
        near = cKDTree(points).query_ball_point(params[sel, :2], window + 4.0 * sigma, return_length=True)
        active = near > 0
        p_k, i_k, _ = _refine.fit_columns(
            img, params[sel], radius=window, noise=noise, elliptical=elliptical, max_sweeps=4,
            sigma_range=sig_range, max_shift=0.5 * min_separation, active=active, sweep_tol=SWEEP_TOL, tol=1e-5)
        params[sel[active]] = p_k[active]
        info[sel[active]] = i_k[active]

    for rnd in range(SPLIT_ROUNDS_SHARED):
        if not cand.any() or (rnd >= SPLIT_ROUNDS and shared is None):
            break
        kept = np.flatnonzero(keep)
        sub = params[kept]
        ptr, idx = _refine.neighbour_lists(sub[:, :2], radius + 4.0 * sig_range[1])
        local = np.flatnonzero(cand[kept])
        def tests(half):
            single, p1, p2, i1, i2, res = _split.split_tests(
                img, sub, local, ptr, idx, radius=radius, poisson=noise == "poisson", sigma_range=sig_range,
                max_shift=0.5 * min_separation + sigma, min_ratio=limit, max_iter=SPLIT_MAX_ITER, tol=1e-5,
                half_vector=half)
            return single, p1, p2, i1, i2, res, _inside(p1, sigma, img.shape) & _inside(p2, sigma, img.shape)

        single, p1, p2, i1, i2, res, inside = tests(None if shared is None else 0.5 * shared)
        if penalty is None:
            lenient = _split.accept_splits(res, p1, p2, i1, i2, min_snr=min_snr) & inside
            need = max(SPLIT_SYSTEMATIC * len(local), SPLIT_SYSTEMATIC_ALL * len(kept))
            systematic = lenient.sum() >= need
            if share_pairs:
                # the motif repeats: one pair vector for the lattice, from the splits or else
                # from the elongation the merged pairs share; every candidate is tested again
                # with its two columns started there and splits must lie along it
                guess = shared_pair_vector(p1[lenient, :2] - p2[lenient, :2]) if systematic else None
                if guess is None:
                    guess = elongation_vector(single)
                if guess is not None:
                    t = tests(0.5 * guess)
                    _, q1, q2, j1, j2, r, q_inside = t
                    along = _split.accept_splits(r, q1, q2, j1, j2, min_snr=min_snr, penalty=PAIR_PENALTY) \
                        & q_inside & pair_agrees(q1[:, :2] - q2[:, :2], guess)
                    if along.sum() >= need:
                        systematic = True
                        single, p1, p2, i1, i2, res, inside = t
                        shared = shared_pair_vector(p1[along, :2] - p2[along, :2])
                        if shared is None:
                            shared = guess
            penalty = (PAIR_PENALTY if shared is not None else 1.0) if systematic else SPLIT_STRICT * model_error
        ok = _split.accept_splits(res, p1, p2, i1, i2, min_snr=min_snr, penalty=penalty) & inside
        if shared is not None:
            ok &= pair_agrees(p1[:, :2] - p2[:, :2], shared)
        if not ok.any():
            break
        which = kept[local[ok]]
        n, m = len(params), int(ok.sum())
        before_p, before_i, before_c = params[which].copy(), info[which].copy(), com[which].copy()
        params = np.concatenate([params, p2[ok]])
        params[which] = p1[ok]
        info = np.concatenate([info, i2[ok]])
        info[which] = i1[ok]
        com = np.concatenate([com, p2[ok, :2]])
        com[which] = p1[ok, :2]
        keep = np.concatenate([keep, np.ones(m, bool)])
        fixed = np.concatenate([fixed, np.zeros(m, bool)])
        new = np.zeros(n + m, dtype=bool)
        new[which] = True
        new[n:] = True
        halves = np.concatenate([halves, np.zeros(m, bool)]) | new
        # refit the new halves (mutual nearest neighbours: one joint pair fit each) and
        # the columns next to them, whose neighbour model changed
        refit_near(params[new, :2])
        # a half that is no longer significant (or failed) after the joint refit: undo the split
        with np.errstate(divide="ignore", invalid="ignore"):
            snr = params[:, 2] / info[:, 2]
        weak = ~(np.isfinite(snr) & (snr >= min_snr)) | (info[:, 7] == _refine.STATUS_FAILED) \
            | ~_inside(params, sigma, img.shape)
        undo = weak[which] | weak[n:]
        if shared is not None:
            # a joint refit that turned the pair off the lattice's pair vector (pulled by
            # its neighbours): keep the split test's pair, which agreed with it
            second = n + np.arange(len(which))
            _restore_turned(params, info, which, second, p1[ok], p2[ok], i1[ok], i2[ok], shared, ~undo)
            pairs.append((which[~undo], second[~undo], p1[ok][~undo], p2[ok][~undo], i1[ok][~undo],
                          i2[ok][~undo]))
        if undo.any():
            params[which[undo]], info[which[undo]], com[which[undo]] = before_p[undo], before_i[undo], before_c[undo]
            keep[n + np.flatnonzero(undo)] = False
            halves[which[undo]] = False
            halves[n + np.flatnonzero(undo)] = False
            new[which[undo]] = False
            new[n + np.flatnonzero(undo)] = False
            refit_near(params[which[undo], :2])
        if not new.any():
            break
        # next round: the rejected candidates next to a new split
        sel = np.flatnonzero(keep)
        near = cKDTree(params[new, :2]).query_ball_point(params[sel, :2], window + 4.0 * sigma,
                                                          return_length=True)
        again = np.zeros(n + m, dtype=bool)
        again[sel[near > 0]] = True
        cand = np.concatenate([cand, np.zeros(m, bool)]) & again & ~halves
    for a, b, q1, q2, j1, j2 in pairs:
        _restore_turned(params, info, a, b, q1, q2, j1, j2, shared, keep[a] & keep[b])
    return params, info, com, keep, fixed, halves


def _restore_turned(params, info, a, b, q1, q2, j1, j2, shared, live):
    """Where a live pair ``(a[i], b[i])`` no longer lies along ``shared`` (a joint refit
    pulled it off the lattice's pair vector), put back the split test's pair ``q1, q2``
    (parameters) and ``j1, j2`` (fit info), which agreed with it. In place."""
    turned = live & ~pair_agrees(params[a, :2] - params[b, :2], shared)
    params[a[turned]], params[b[turned]] = q1[turned], q2[turned]
    info[a[turned]], info[b[turned]] = j1[turned], j2[turned]


def _inside(params: np.ndarray, margin: float, shape: tuple[int, int]) -> np.ndarray:
    """Centres at least ``margin`` px inside the image.

    A split half near the border may be the flank of a column outside the image (the
    partner of a dumbbell cut by the border fits as well as a column inside).
    """
    with np.errstate(invalid="ignore"):
        return ((params[:, 0] >= margin) & (params[:, 0] <= shape[0] - 1 - margin)
                & (params[:, 1] >= margin) & (params[:, 1] <= shape[1] - 1 - margin))


def _second_chance(img, params, info, com, keep, sigma, window, min_separation, min_snr, noise, elliptical,
                   sig_range):
    """Refit rejected faint candidates with the width fixed at ``sigma``; keep the significant ones."""
    n = len(params)
    fixed = np.zeros(n, dtype=bool)
    ny, nx = img.shape
    # not near the border: with a fixed width the flank of a column outside the image
    # fits as well as a faint column inside
    m = 2.0 * sigma
    inside = (com[:, 0] >= m) & (com[:, 0] <= ny - 1 - m) & (com[:, 1] >= m) & (com[:, 1] <= nx - 1 - m)
    retry = ~keep & inside
    if keep.any() and retry.any():
        d, _ = cKDTree(params[keep, :2]).query(com[retry])
        idx = np.flatnonzero(retry)
        retry[idx[d < 0.5 * min_separation]] = False  # already a column there
    if not retry.any():
        return keep, params, info, fixed
    trial = params.copy()
    r = np.flatnonzero(retry)
    trial[r, :2] = com[r]
    trial[r, 4] = trial[r, 6] = 1.0 / sigma**2
    trial[r, 5] = 0.0
    trial[r, 2] = np.where(np.isfinite(trial[r, 2]) & (trial[r, 2] > 0), trial[r, 2], 1e-3)
    sel = np.flatnonzero(keep | retry)
    p_k, i_k, _ = _refine.fit_columns(
        img, trial[sel], radius=window, noise=noise, elliptical=False, fixed_width=True, max_sweeps=4,
        sigma_range=sig_range, max_shift=0.5 * min_separation, active=retry[sel], sweep_tol=SWEEP_TOL, tol=1e-5)
    got = retry[sel]
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = p_k[:, 2] / i_k[:, 2]
    moved = np.hypot(p_k[:, 0] - com[sel, 0], p_k[:, 1] - com[sel, 1])
    ok = got & (i_k[:, 7] != _refine.STATUS_FAILED) & np.isfinite(snr) & (snr >= min_snr) \
        & (moved <= 0.5 * min_separation) & (p_k[:, 0] >= -0.5) & (p_k[:, 0] < ny - 0.5) \
        & (p_k[:, 1] >= -0.5) & (p_k[:, 1] < nx - 0.5)
    new = sel[ok]
    if len(new) == 0:
        return keep, params, info, fixed
    # not on top of a kept column or of each other
    order = new[np.argsort(-snr[ok], kind="stable")]
    chosen: list[int] = []
    kept_tree = cKDTree(params[keep, :2]) if keep.any() else None
    pos = dict(zip(sel, p_k[:, :2]))
    # the chosen ones by cells of the exclusion distance: only the 3 x 3 cells around a
    # candidate can hold one closer than it (a scan of every chosen one took 2 s for 30,000)
    reach = 0.5 * min_separation
    cells: dict[tuple[int, int], list[int]] = {}

    def cell(p):
        return (int(np.floor(p[0] / reach)), int(np.floor(p[1] / reach))) if reach > 0 else (0, 0)

    for k in order:
        if kept_tree is not None and kept_tree.query(pos[k])[0] < reach:
            continue
        cy, cx = cell(pos[k])
        if any(np.hypot(*(pos[k] - pos[c])) < reach
               for dy in (-1, 0, 1) for dx in (-1, 0, 1) for c in cells.get((cy + dy, cx + dx), ())):
            continue
        chosen.append(int(k))
        cells.setdefault((cy, cx), []).append(int(k))
    if not chosen:
        return keep, params, info, fixed
    params = params.copy()
    info = info.copy()
    where = {int(k): j for j, k in enumerate(sel)}
    for k in chosen:
        params[k] = p_k[where[k]]
        info[k] = i_k[where[k]]
    keep = keep.copy()
    keep[chosen] = True
    fixed[chosen] = True
    # the kept columns next to the new ones now have a new neighbour: refit them
    near = cKDTree(params[chosen, :2]).query_ball_point(params[:, :2], window + 4.0 * sigma, return_length=True)
    again = keep & ~fixed & (near > 0)
    if again.any():
        sel = np.flatnonzero(keep)
        p_k, i_k, _ = _refine.fit_columns(
            img, params[sel], radius=window, noise=noise, elliptical=elliptical, max_sweeps=4,
            sigma_range=sig_range, max_shift=0.5 * min_separation, active=again[sel], sweep_tol=SWEEP_TOL, tol=1e-5)
        upd = again[sel]
        params[sel[upd]] = p_k[upd]
        info[sel[upd]] = i_k[upd]
    return keep, params, info, fixed


def _dedupe(points: np.ndarray, radius: float) -> np.ndarray:
    """Indices of the points kept when each point removes later points within ``radius``."""
    n = len(points)
    if n < 2:
        return np.arange(n)
    pairs = cKDTree(points).query_pairs(radius, output_type="ndarray")
    if len(pairs) == 0:
        return np.arange(n)
    pairs.sort(axis=1)
    pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]
    removed = np.zeros(n, bool)
    for a, b in pairs:
        if not removed[a]:
            removed[b] = True
    return np.flatnonzero(~removed)


def _empty(n: int) -> dict[str, np.ndarray]:
    return {k: np.full(n, np.nan) for k in FIELDS}


def _fill(out: dict, params: np.ndarray, info: np.ndarray) -> None:
    out["y"], out["x"] = params[:, 0], params[:, 1]
    out["amplitude"], out["background"] = params[:, 2], params[:, 3]
    out["a"], out["b"], out["c"] = params[:, 4], params[:, 5], params[:, 6]
    smaj, smin, ang = _refine.shape_from_precision(params[:, 4], params[:, 5], params[:, 6])
    out["sigma_major"], out["sigma_minor"], out["angle"] = smaj, smin, ang
    out["integrated_intensity"] = 2.0 * math.pi * params[:, 2] * smaj * smin
    for k, name in enumerate(("y_err", "x_err", "amplitude_err", "background_err", "chi2", "n_iter", "n_pixels",
                              "status")):
        out[name] = info[:, k]
    with np.errstate(divide="ignore", invalid="ignore"):
        out["snr"] = params[:, 2] / info[:, 2]


def _select(out: dict, keep: np.ndarray) -> dict:
    return {k: np.ascontiguousarray(v[keep]) for k, v in out.items()}


def _accept(
    params: np.ndarray, info: np.ndarray, com: np.ndarray, keep: np.ndarray, sigma: float, min_separation: float,
    min_snr: float, width_range: tuple[float, float], shape: tuple[int, int],
) -> np.ndarray:
    """Which fitted candidates are columns: significant, of a column's width, not wandered, not doubled."""
    smaj, smin, _ = _refine.shape_from_precision(params[:, 4], params[:, 5], params[:, 6])
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = params[:, 2] / info[:, 2]
    moved = np.hypot(params[:, 0] - com[:, 0], params[:, 1] - com[:, 1])
    # Near the border a column outside the image shows only its rising flank, which a
    # narrow Gaussian centred just inside fits well: there the width must be a column's.
    edge = np.minimum.reduce([params[:, 0], params[:, 1], shape[0] - 1 - params[:, 0], shape[1] - 1 - params[:, 1]])
    min_width = np.where(edge < 2.0 * sigma, max(width_range[0], EDGE_MIN_WIDTH), width_range[0]) * sigma
    good = (
        keep
        & (info[:, 7] != _refine.STATUS_FAILED)
        & np.isfinite(snr)
        & (snr >= min_snr)
        & (smaj <= width_range[1] * sigma)
        & (smin >= min_width)
        & (moved <= 0.5 * min_separation)
        # centres inside the image (a pixel covers +-0.5 px around its centre)
        & (params[:, 0] >= -0.5) & (params[:, 0] < shape[0] - 0.5)
        & (params[:, 1] >= -0.5) & (params[:, 1] < shape[1] - 0.5)
    )
    # two candidates that converged on one column: keep the more significant one
    idx = np.flatnonzero(good)
    if len(idx) > 1:
        pairs = cKDTree(params[idx, :2]).query_pairs(0.5 * min_separation, output_type="ndarray")
        if len(pairs):
            order = np.argsort(-snr[idx], kind="stable")
            rank = np.empty(len(idx), int)
            rank[order] = np.arange(len(idx))
            drop = np.zeros(len(idx), bool)
            for a, b in sorted(pairs.tolist(), key=lambda ab: min(rank[ab[0]], rank[ab[1]])):
                if drop[a] or drop[b]:
                    continue
                drop[b if rank[a] < rank[b] else a] = True
            good[idx[drop]] = False
    return good
