"""Scores of a segmentation against ground truth.

All functions take label images as NumPy arrays or as HyperSpy signals (anything
with a ``.data`` attribute; dask-backed data are computed), of shape ``(ny, nx)``
for an image or ``(..., ny, nx)`` for a series (leading axes are frames, the last
two are the image axes, as in a HyperSpy ``Signal2D``). Labels are integers;
predicted and true labels need not share values or counts: cluster labels are
arbitrary, so every score is invariant to a permutation of the predicted labels.

* :func:`match_labels` - the one-to-one matching of predicted to true labels that
  maximises the number of agreeing pixels (Hungarian algorithm on the contingency
  table, :func:`scipy.optimize.linear_sum_assignment`). With more predicted than
  true labels the surplus predictions stay unmatched (their pixels count as errors);
  with fewer, some true labels stay unmatched.
* :func:`matched_accuracy` - fraction of pixels whose matched label is right.
* :func:`adjusted_rand_index` - Hubert & Arabie's adjusted Rand index from the
  contingency table (1 for identical partitions, ~0 for random ones).
* :func:`region_iou` - intersection over union of each true region with the
  prediction matched to it.
* :func:`boundary_scores`, :func:`boundary_f_score` - boundary precision, recall and
  F-score within a tolerance in pixels. A boundary pixel is a pixel whose
  4-neighbourhood contains another label (so both sides of an interface are
  boundary pixels). A predicted boundary pixel is correct if a true boundary pixel
  lies within ``tolerance`` pixels (Euclidean distance), and vice versa for recall.
* :func:`segmentation_scores` - everything at once, for an image or a series
  (pooled over all frames, and per frame on request).

For a series, the pooled scores use a *single* matching for all frames (labels
should mean the same pattern in every frame); per-frame scores match each frame
separately. Boundaries are found within each frame (never across time).

This module does not import HyperSpy.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage
from scipy.optimize import linear_sum_assignment

from ._validation import check_real, integer_labels

__all__ = [
    "contingency_table",
    "match_labels",
    "matched_prediction",
    "matched_accuracy",
    "adjusted_rand_index",
    "region_iou",
    "boundary_map",
    "boundary_scores",
    "boundary_f_score",
    "segmentation_scores",
]


# --------------------------------------------------------------------------- #
# input handling
# --------------------------------------------------------------------------- #
def _as_labels(labels: Any, name: str) -> np.ndarray:
    """Integer ndarray from an array or a signal (booleans count as labels 0 and 1)."""
    return integer_labels(labels, name, allow_bool=True)


def _pair(pred: Any, true: Any, *, min_ndim: int = 1) -> tuple[np.ndarray, np.ndarray]:
    p = _as_labels(pred, "pred")
    t = _as_labels(true, "true")
    if p.shape != t.shape:
        raise ValueError(f"pred and true must have the same shape, got {p.shape} and {t.shape}")
    if p.ndim < min_ndim:
        raise ValueError(f"labels must have at least {min_ndim} dimension(s), got shape {p.shape}")
    if p.size == 0:
        raise ValueError("labels must not be empty")
    return p, t


def _tolerance(tolerance: Any) -> float:
    return check_real("tolerance", tolerance, 0, units=" (pixels)", what="a finite number")


# --------------------------------------------------------------------------- #
# contingency and matching
# --------------------------------------------------------------------------- #
def contingency_table(pred: Any, true: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts of pixels for every (predicted, true) label pair.

    Parameters
    ----------
    pred, true : array_like of int or signal, same shape
        Label images.

    Returns
    -------
    table : (n_pred, n_true) int64 ndarray
        ``table[i, j]`` = number of pixels with predicted label ``pred_labels[i]`` and
        true label ``true_labels[j]``.
    pred_labels : (n_pred,) ndarray
        Sorted distinct predicted labels.
    true_labels : (n_true,) ndarray
        Sorted distinct true labels.
    """
    p, t = _pair(pred, true)
    pl, pi = np.unique(p.ravel(), return_inverse=True)
    tl, ti = np.unique(t.ravel(), return_inverse=True)
    table = np.bincount(pi.astype(np.int64) * len(tl) + ti, minlength=len(pl) * len(tl)).reshape(len(pl), len(tl))
    return table.astype(np.int64), pl, tl


def _match_table(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = linear_sum_assignment(table, maximize=True)
    return rows, cols


def match_labels(pred: Any, true: Any) -> dict[int, int]:
    """Best one-to-one matching of predicted to true labels.

    Maximises the number of pixels where the matched predicted label equals the true
    one (Hungarian algorithm on the contingency table).

    Returns
    -------
    dict
        ``{predicted label: true label}`` for the matched pairs; at most
        ``min(n_pred, n_true)`` entries. Unmatched predicted labels are absent.
    """
    table, pl, tl = contingency_table(pred, true)
    rows, cols = _match_table(table)
    return {int(pl[r]): int(tl[c]) for r, c in zip(rows, cols)}


def matched_prediction(pred: Any, true: Any) -> np.ndarray:
    """The prediction relabelled with the matched true labels.

    Unmatched predicted labels get new values ``max(true) + 1, max(true) + 2, ...``
    (in increasing order of the predicted label), so they never agree with the truth.

    Returns
    -------
    ndarray of int64, same shape as ``pred``.
    """
    p, t = _pair(pred, true)
    mapping = match_labels(p, t)
    pl, inverse = np.unique(p.ravel(), return_inverse=True)
    nxt = int(t.max()) + 1
    new = np.empty(len(pl), dtype=np.int64)
    for k, lab in enumerate(pl):
        if int(lab) in mapping:
            new[k] = mapping[int(lab)]
        else:
            new[k] = nxt
            nxt += 1
    return new[inverse].reshape(p.shape)


def matched_accuracy(pred: Any, true: Any) -> float:
    """Fraction of pixels correctly labelled after the best one-to-one matching.

    Returns
    -------
    float in [0, 1]
    """
    table, _, _ = contingency_table(pred, true)
    rows, cols = _match_table(table)
    return float(table[rows, cols].sum() / table.sum())


def _comb2(n: np.ndarray | int) -> np.ndarray:
    n = np.asarray(n, dtype=np.float64)
    return n * (n - 1) / 2.0


def _ari_from_table(table: np.ndarray) -> float:
    n = float(table.sum())
    sum_ij = float(_comb2(table).sum())
    sum_a = float(_comb2(table.sum(axis=1)).sum())
    sum_b = float(_comb2(table.sum(axis=0)).sum())
    total = float(_comb2(n))
    if total == 0:
        return 1.0
    expected = sum_a * sum_b / total
    maximum = 0.5 * (sum_a + sum_b)
    if maximum == expected:  # both partitions trivial (one cluster, or all singletons)
        return 1.0
    return float((sum_ij - expected) / (maximum - expected))


def adjusted_rand_index(pred: Any, true: Any) -> float:
    """Adjusted Rand index (Hubert & Arabie 1985) of two labelings.

    ``ARI = (sum_ij C(n_ij, 2) - E) / (0.5 (sum_i C(a_i, 2) + sum_j C(b_j, 2)) - E)``
    with ``E = sum_i C(a_i, 2) sum_j C(b_j, 2) / C(n, 2)``, ``n_ij`` the contingency
    table and ``a_i, b_j`` its row and column sums. Equals 1 for identical
    partitions (up to relabelling), about 0 for independent ones, can be negative.
    When both labelings are trivial in the same way (a single cluster each, or all
    singletons) the ratio is 0/0 and 1.0 is returned, as scikit-learn does.

    Returns
    -------
    float
    """
    table, _, _ = contingency_table(pred, true)
    return _ari_from_table(table)


def region_iou(pred: Any, true: Any) -> dict[int, float]:
    """Intersection over union of each true region with its matched prediction.

    Returns
    -------
    dict
        ``{true label: IoU}`` for every true label; 0.0 for a true label left
        unmatched (fewer predicted than true labels).
    """
    table, pl, tl = contingency_table(pred, true)
    rows, cols = _match_table(table)
    pred_sizes = table.sum(axis=1)
    true_sizes = table.sum(axis=0)
    out = {int(lab): 0.0 for lab in tl}
    for r, c in zip(rows, cols):
        inter = table[r, c]
        union = pred_sizes[r] + true_sizes[c] - inter
        out[int(tl[c])] = float(inter / union)
    return out


# --------------------------------------------------------------------------- #
# boundaries
# --------------------------------------------------------------------------- #
def boundary_map(labels: Any) -> np.ndarray:
    """Boundary pixels of a label image or series.

    A pixel is a boundary pixel if one of its 4 neighbours (up, down, left, right,
    within the same frame) has another label.

    Parameters
    ----------
    labels : (..., ny, nx) array_like of int or signal

    Returns
    -------
    bool ndarray of the same shape.
    """
    lab = _as_labels(labels, "labels")
    if lab.ndim < 2:
        raise ValueError(f"labels must have at least 2 dimensions (ny, nx), got shape {lab.shape}")
    out = np.zeros(lab.shape, dtype=bool)
    dy = lab[..., 1:, :] != lab[..., :-1, :]
    dx = lab[..., :, 1:] != lab[..., :, :-1]
    out[..., 1:, :] |= dy
    out[..., :-1, :] |= dy
    out[..., :, 1:] |= dx
    out[..., :, :-1] |= dx
    return out


def _boundary_counts(pb: np.ndarray, tb: np.ndarray, tol: float) -> tuple[int, int, int, int]:
    """(matched predicted, predicted, matched true, true) boundary pixel counts of one frame."""
    n_p, n_t = int(pb.sum()), int(tb.sum())
    if n_p == 0 or n_t == 0:
        return 0, n_p, 0, n_t
    dist_to_true = ndimage.distance_transform_edt(~tb)
    dist_to_pred = ndimage.distance_transform_edt(~pb)
    hit_p = int((dist_to_true[pb] <= tol).sum())
    hit_t = int((dist_to_pred[tb] <= tol).sum())
    return hit_p, n_p, hit_t, n_t


def _prf(hit_p: int, n_p: int, hit_t: int, n_t: int) -> dict[str, float]:
    if n_p == 0 and n_t == 0:  # neither has a boundary: they agree perfectly
        return {"precision": 1.0, "recall": 1.0, "f_score": 1.0}
    precision = hit_p / n_p if n_p else 0.0
    recall = hit_t / n_t if n_t else 0.0
    f = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {"precision": float(precision), "recall": float(recall), "f_score": float(f)}


def _frames(p: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if p.ndim < 2:
        raise ValueError(f"labels must have at least 2 dimensions (ny, nx), got shape {p.shape}")
    shape = (-1,) + p.shape[-2:]
    return p.reshape(shape), t.reshape(shape)


def boundary_scores(pred: Any, true: Any, tolerance: float = 2) -> dict[str, float]:
    """Boundary precision, recall and F-score within ``tolerance`` pixels.

    Parameters
    ----------
    pred, true : (..., ny, nx) array_like of int or signal, same shape
        Label images; leading axes are frames, pooled.
    tolerance : float
        Maximum distance in pixels (>= 0) between a boundary pixel and the nearest
        boundary pixel of the other labeling for it to count as matched.

    Returns
    -------
    dict
        ``precision``, ``recall``, ``f_score``: floats in [0, 1]. If neither labeling
        has a boundary all three are 1; if only one has, the scores are 0.
    """
    tol = _tolerance(tolerance)
    p, t = _frames(*_pair(pred, true))
    pb, tb = boundary_map(p), boundary_map(t)
    tot = np.zeros(4, dtype=np.int64)
    for k in range(p.shape[0]):
        tot += np.array(_boundary_counts(pb[k], tb[k], tol))
    return _prf(*(int(v) for v in tot))


def boundary_f_score(pred: Any, true: Any, tolerance: float = 2) -> float:
    """Boundary F-score (harmonic mean of boundary precision and recall), see
    :func:`boundary_scores`."""
    return boundary_scores(pred, true, tolerance)["f_score"]


# --------------------------------------------------------------------------- #
# everything at once
# --------------------------------------------------------------------------- #
def _scores_from_table(table: np.ndarray, pl: np.ndarray, tl: np.ndarray) -> dict[str, Any]:
    rows, cols = _match_table(table)
    n = table.sum()
    pred_sizes, true_sizes = table.sum(axis=1), table.sum(axis=0)
    iou = {int(lab): 0.0 for lab in tl}
    for r, c in zip(rows, cols):
        iou[int(tl[c])] = float(table[r, c] / (pred_sizes[r] + true_sizes[c] - table[r, c]))
    return {
        "accuracy": float(table[rows, cols].sum() / n),
        "ari": _ari_from_table(table),
        "iou": iou,
        "mean_iou": float(np.mean(list(iou.values()))),
        "mapping": {int(pl[r]): int(tl[c]) for r, c in zip(rows, cols)},
        "n_pred": int(len(pl)),
        "n_true": int(len(tl)),
    }


def segmentation_scores(pred: Any, true: Any, per_frame: bool = False, tolerance: float = 2) -> dict[str, Any]:
    """All segmentation scores for an image or a series.

    Parameters
    ----------
    pred, true : (ny, nx) or (..., ny, nx) array_like of int or signal, same shape
        Predicted and ground-truth labels.
    per_frame : bool
        For a series (ndim > 2), also score every frame on its own (own matching).
    tolerance : float
        Boundary tolerance in pixels, see :func:`boundary_scores`.

    Returns
    -------
    dict
        ``accuracy`` (matched pixel accuracy), ``ari``, ``iou`` ({true label: IoU}),
        ``mean_iou``, ``mapping`` ({pred: true}), ``n_pred``, ``n_true``,
        ``boundary_precision``, ``boundary_recall``, ``boundary_f_score``, pooled over
        all pixels with one matching. With ``per_frame=True`` and a series, also
        ``per_frame``: a dict of float64 arrays of length n_frames (``accuracy``,
        ``ari``, ``mean_iou``, ``boundary_precision``, ``boundary_recall``,
        ``boundary_f_score``).
    """
    tol = _tolerance(tolerance)
    p, t = _pair(pred, true, min_ndim=2)
    table, pl, tl = contingency_table(p, t)
    out = _scores_from_table(table, pl, tl)
    pf, tf = _frames(p, t)
    pb, tb = boundary_map(pf), boundary_map(tf)
    counts = np.array([_boundary_counts(pb[k], tb[k], tol) for k in range(pf.shape[0])], dtype=np.int64)
    b = _prf(*(int(v) for v in counts.sum(axis=0)))
    out.update(boundary_precision=b["precision"], boundary_recall=b["recall"], boundary_f_score=b["f_score"])
    if per_frame and p.ndim > 2:
        keys = ("accuracy", "ari", "mean_iou", "boundary_precision", "boundary_recall", "boundary_f_score")
        frames = {k: np.empty(pf.shape[0]) for k in keys}
        for k in range(pf.shape[0]):
            s = _scores_from_table(*contingency_table(pf[k], tf[k]))
            bk = _prf(*(int(v) for v in counts[k]))
            frames["accuracy"][k] = s["accuracy"]
            frames["ari"][k] = s["ari"]
            frames["mean_iou"][k] = s["mean_iou"]
            frames["boundary_precision"][k] = bk["precision"]
            frames["boundary_recall"][k] = bk["recall"]
            frames["boundary_f_score"][k] = bk["f_score"]
        out["per_frame"] = frames
    return out
