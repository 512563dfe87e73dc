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
