"""Cramer-Rao lower bound of the position of a Gaussian column (no HyperSpy).

For Poisson counts with mean ``mu_k(theta)`` on pixels ``k`` the Fisher information is
``F = sum_k grad mu_k grad mu_k^T / mu_k``; the bound on the variance of any unbiased
estimator of ``theta_i`` is ``(F^-1)_ii``. The column model is the one the refinement
fits: ``mu = B + A exp(-((y - y0)^2 + (x - x0)^2) / (2 sigma^2))`` point-sampled at
pixel centres, with the amplitude ``A``, background ``B`` and width ``sigma`` unknown
(nuisance parameters).
"""

from __future__ import annotations

import numpy as np


def _fisher(amplitude: float, background: float, sigma: float, offset: tuple[float, float],
            extent: float, read_noise: float = 0.0) -> np.ndarray:
    half = int(np.ceil(extent * sigma)) + 1
    g = np.arange(-half, half + 1, dtype=np.float64)
    dy = g[:, None] - offset[0]
    dx = g[None, :] - offset[1]
    r2 = dy**2 + dx**2
    e = np.exp(-0.5 * r2 / sigma**2)
    mu = background + amplitude * e
    grads = [
        amplitude * e * dy / sigma**2,  # d/dy0
        amplitude * e * dx / sigma**2,  # d/dx0
        e,  # d/dA
        np.ones_like(e),  # d/dB
        amplitude * e * r2 / sigma**3,  # d/dsigma
    ]
    var = mu + read_noise**2
    jac = np.stack([gk.ravel() for gk in grads], axis=1)
    return jac.T @ (jac / var.ravel()[:, None])


def gaussian_column_crlb(
    amplitude: float,
    sigma: float,
    background: float = 0.0,
    *,
    read_noise: float = 0.0,
    n_offsets: int = 4,
    extent: float = 6.0,
) -> dict[str, float]:
    """Cramer-Rao lower bounds for an isolated Gaussian column in Poisson noise.

    Parameters
    ----------
    amplitude : float
        Expected counts at the column peak above the background, > 0.
    sigma : float
        Gaussian standard deviation of the column in px, > 0.
    background : float
        Expected background counts per pixel, >= 0.
    read_noise : float
        Additive Gaussian noise (counts), >= 0.
    n_offsets : int
        The bound depends weakly on where the column sits within a pixel; it is
        averaged (as a variance) over ``n_offsets**2`` sub-pixel offsets.
    extent : float
        Half-size of the pixel grid in units of ``sigma``.

    Returns
    -------
    dict
        ``position``: bound on the standard deviation of one coordinate (y or x) in px;
        ``amplitude``, ``background``, ``sigma``: bounds of the nuisance parameters.

    Examples
    --------
    >>> from hyperspy_symseg.columns import gaussian_column_crlb
    >>> b = gaussian_column_crlb(1000.0, 2.5, background=50.0)
    >>> round(b["position"], 3)  # doctest: +SKIP
    0.016
    """
    for name, v, low in (("amplitude", amplitude, 0.0), ("sigma", sigma, 0.0)):
        if not np.isfinite(v) or v <= low:
            raise ValueError(f"{name} must be a finite number > 0, got {v}")
    if not np.isfinite(background) or background < 0:
        raise ValueError(f"background must be a finite number >= 0, got {background}")
    if amplitude + background <= 0:
        raise ValueError("amplitude + background must be > 0")
    offs = (np.arange(n_offsets) + 0.5) / n_offsets - 0.5
    var = np.zeros(5)
    for oy in offs:
        for ox in offs:
            f = _fisher(float(amplitude), float(background), float(sigma), (oy, ox), extent, read_noise)
            var += np.diag(np.linalg.inv(f))
    var /= len(offs) ** 2
    sd = np.sqrt(var)
    return {
        "position": float(np.sqrt(0.5 * (var[0] + var[1]))),
        "amplitude": float(sd[2]),
        "background": float(sd[3]),
        "sigma": float(sd[4]),
    }
