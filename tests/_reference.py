"""Slow, obviously-correct references for the numerical kernels (direct loops)."""

import numpy as np


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two equally shaped arrays, 0 if either is constant."""
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    a = a - a.mean()
    b = b - b.mean()
    den = np.sqrt((a * a).sum() * (b * b).sum())
    if den == 0:
        return 0.0
    return float((a * b).sum() / den)


def translation_score(image, y, x, m, n, patch_y, patch_x) -> float:
    """Eq. 3 of the paper: Corr(P(y, x), P(y + m, x + n)) by direct slicing."""
    p = image[y - patch_y : y + patch_y + 1, x - patch_x : x + patch_x + 1]
    q = image[y + m - patch_y : y + m + patch_y + 1, x + n - patch_x : x + n + patch_x + 1]
    assert p.shape == q.shape == (2 * patch_y + 1, 2 * patch_x + 1)
    return pearson(p, q)


def clipped_translation_score(image, y, x, m, n, patch_y, patch_x) -> float:
    """Pearson correlation over the patch rows/columns where the pixel and its shifted
    partner both lie inside the image (edges="shrink"); equals translation_score inside."""
    h, w = image.shape
    rows = [i for i in range(-patch_y, patch_y + 1) if 0 <= y + i < h and 0 <= y + i + m < h]
    cols = [j for j in range(-patch_x, patch_x + 1) if 0 <= x + j < w and 0 <= x + j + n < w]
    p = image[np.ix_([y + i for i in rows], [x + j for j in cols])]
    q = image[np.ix_([y + i + m for i in rows], [x + j + n for j in cols])]
    return pearson(p, q)


def local_correlation_at(image, y, x, shifts, patch_y, patch_x, clipped=False) -> np.ndarray:
    score = clipped_translation_score if clipped else translation_score
    return np.array([score(image, y, x, m, n, patch_y, patch_x) for m, n in shifts])


def pca(X: np.ndarray):
    """PCA by SVD of the centred data: (mean, components (n, d), explained variance (d,))."""
    X = np.asarray(X, dtype=np.float64)
    mean = X.mean(axis=0)
    _, s, vt = np.linalg.svd(X - mean, full_matrices=False)
    return mean, vt, s**2 / (len(X) - 1)


def nearest(X, centres):
    labels = []
    for x in np.asarray(X, dtype=np.float64):
        d = [((x - c) ** 2).sum() for c in centres]
        labels.append(int(np.argmin(d)))
    return np.array(labels)


def sq_dist(x, c) -> float:
    """Squared distance, features added one by one in order (as the kernels do)."""
    d = 0.0
    for a, b in zip(np.asarray(x, dtype=np.float64), np.asarray(c, dtype=np.float64)):
        d += (a - b) * (a - b)
    return d


def kmeans_plusplus(X, k, uniforms):
    """Greedy k-means++ seeding with local trials, one point at a time."""
    X = np.asarray(X, dtype=np.float64)
    n = len(X)
    n_trials = (len(uniforms) - 1) // max(k - 1, 1)
    centres = [X[min(int(uniforms[0] * n), n - 1)]]
    closest = np.array([sq_dist(x, centres[0]) for x in X])
    for c in range(1, k):
        cumulative = np.cumsum(closest)
        best_pot, best, best_closest = np.inf, 0, None
        for t in range(n_trials):
            cand = min(int(np.searchsorted(cumulative, uniforms[1 + (c - 1) * n_trials + t] * cumulative[-1], "right")), n - 1)
            trial = np.minimum(closest, [sq_dist(x, X[cand]) for x in X])
            if trial.sum() < best_pot:
                best_pot, best, best_closest = trial.sum(), cand, trial
        centres.append(X[best])
        closest = best_closest
    return np.array(centres)


def lloyd(X, centres, max_iter, tol):
    """Lloyd's algorithm point by point: (labels, centres, inertia); every cluster stays non-empty here."""
    X = np.asarray(X, dtype=np.float64)
    centres = np.array(centres, dtype=np.float64)
    for _ in range(max_iter):
        labels = nearest(X, centres)
        new = np.array([X[labels == c].mean(axis=0) for c in range(len(centres))])
        shift = ((new - centres) ** 2).sum()
        centres = new
        if shift <= tol:
            break
    labels = nearest(X, centres)
    return labels, centres, sum(sq_dist(x, centres[c]) for x, c in zip(X, labels))
