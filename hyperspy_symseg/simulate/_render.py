"""Rendering: columns convolved with the probe, sampled on a (distorted) scan."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.fft

from ._noise import ScanNoise, _Background
from ._probes import GaussianProbe, HRTEMTransfer, PhysicalProbe, _as_probe, _gaussian_otf, _Probe
from ._scene import Scene, _check_covered
from ._utils import _image_shape, _positive

#: Width (pixels) of the Gaussian used to spread columns onto the pixel grid before
#: the exact Fourier-space deconvolution (see :func:`render_columns`).
_SPREAD_SIGMA = 1.2
#: Half width of the spreading neighbourhood, in units of ``_SPREAD_SIGMA``.
_SPREAD_TRUNCATE = 6.5
#: Columns spread per batch (bounds the temporary memory to ~100 MB).
_SPREAD_BATCH = 20000


# --------------------------------------------------------------------------- #
# rendering
# --------------------------------------------------------------------------- #
def _spread(pos_px: np.ndarray, weights: np.ndarray, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Sum of unit-integral Gaussians (width ``sigma`` px) on a periodic grid."""
    ny, nx = shape
    half = int(math.ceil(_SPREAD_TRUNCATE * sigma))
    offs = np.arange(-half, half + 1)
    grid = np.zeros(ny * nx)
    norm = 1.0 / (math.sqrt(2 * np.pi) * sigma)
    for s in range(0, len(pos_px), _SPREAD_BATCH):
        p = pos_px[s : s + _SPREAD_BATCH]
        w = weights[s : s + _SPREAD_BATCH]
        iy = np.rint(p[:, 0]).astype(np.int64)[:, None] + offs
        ix = np.rint(p[:, 1]).astype(np.int64)[:, None] + offs
        wy = norm * np.exp(-((iy - p[:, 0:1]) ** 2) / (2 * sigma**2)) * w[:, None]
        wx = norm * np.exp(-((ix - p[:, 1:2]) ** 2) / (2 * sigma**2))
        idx = ((iy % ny) * nx)[:, :, None] + (ix % nx)[:, None, :]
        vals = wy[:, :, None] * wx[:, None, :]
        grid += np.bincount(idx.ravel(), weights=vals.ravel(), minlength=ny * nx)
    return grid.reshape(ny, nx)


def _render_periodic(
    pos_px: np.ndarray, intensities: np.ndarray, shape: tuple[int, int], otf: np.ndarray,
    peak: float | None = None,
) -> np.ndarray:
    """``sum_c I_c psf_px(r - p_c) / peak`` on a periodic ``shape`` grid, ``peak`` by
    default ``max(psf_px)``.

    Columns are spread with a narrow Gaussian g, then the spectrum is multiplied by
    ``OTF / FT(g)``: an exact sub-pixel placement for every frequency below Nyquist,
    up to the aliasing of g (relative 1e-3 at 0.38 cycles/px, 1e-5 at 0.25 cycles/px
    for sigma 1.2 px), which only matters where the OTF is large near Nyquist.
    """
    sg = _SPREAD_SIGMA
    grid = _spread(pos_px, intensities, shape, sg)
    ky = scipy.fft.fftfreq(shape[0])[:, None]
    kx = scipy.fft.rfftfreq(shape[1])[None, :]
    with np.errstate(over="ignore"):
        inv_g = np.exp(2 * np.pi**2 * sg**2 * (ky**2 + kx**2))
    transfer = otf * inv_g
    if peak is None:
        peak = scipy.fft.irfft2(otf, s=shape).max()
    spec = scipy.fft.rfft2(grid, workers=-1)
    spec *= transfer
    return scipy.fft.irfft2(spec, s=shape, workers=-1) / peak


def _fast_len(n: int) -> int:
    return int(scipy.fft.next_fast_len(n, real=True))


def render_columns(
    positions: np.ndarray,
    intensities: np.ndarray,
    shape: tuple[int, int],
    pixel_size: float,
    probe: GaussianProbe | PhysicalProbe | HRTEMTransfer | None = None,
) -> np.ndarray:
    """Noise-free image of point columns convolved with the probe PSF.

    Parameters
    ----------
    positions : (N, 2) array_like of float
        Column positions ``(y, x)`` in nm (image frame: pixel ``(i, j)`` at
        ``(i, j) * pixel_size``). Columns outside the image contribute their tails.
    intensities : (N,) array_like of float
        Column intensities.
    shape : (int, int)
        Image shape (rows, columns).
    pixel_size : float
        nm per pixel.
    probe : GaussianProbe, PhysicalProbe or HRTEMTransfer, optional
        Default ``GaussianProbe(fwhm=0.09)``.

    Returns
    -------
    (ny, nx) float64 ndarray
        ``sum_c I_c PSF(r - p_c) / max(PSF)``: an isolated column of intensity 1 has
        peak 1. With :class:`HRTEMTransfer`, ``1 + contrast * sum_c I_c h(r - p_c) /
        max|h|`` (bright field 1). The image is padded internally by the probe's
        support radius, so there is no wrap-around.

    See Also
    --------
    simulate_image : scenes with regions, noise and ground truth.

    Examples
    --------
    >>> import numpy as np
    >>> from hyperspy_symseg import simulate
    >>> img = simulate.render_columns([[0.4, 0.4]], [1.0], (41, 41), 0.02, simulate.GaussianProbe(0.1))
    >>> round(float(img.max()), 3), [int(i) for i in np.unravel_index(img.argmax(), img.shape)]
    (1.0, [20, 20])
    """
    shape = _image_shape("shape", shape)
    pixel_size = _positive("pixel_size", pixel_size)
    probe = _as_probe(probe)
    pos = np.asarray(positions, dtype=float).reshape(-1, 2)
    inten = np.asarray(intensities, dtype=float).reshape(-1)
    if len(pos) != len(inten):
        raise ValueError(f"positions and intensities must have the same length, got {len(pos)} and {len(inten)}")
    if not (np.all(np.isfinite(pos)) and np.all(np.isfinite(inten))):
        raise ValueError("positions and intensities must be finite")
    margin = int(math.ceil(probe.support_radius() / pixel_size)) + 2
    grid_shape = (_fast_len(shape[0] + 2 * margin), _fast_len(shape[1] + 2 * margin))
    otf = probe.otf(grid_shape, pixel_size)
    img = _render_periodic(pos / pixel_size + margin, inten, grid_shape, otf, probe._peak(otf, grid_shape))
    if probe._bright_field:
        img += probe._bright_field
    return img[margin : margin + shape[0], margin : margin + shape[1]]


#: Extra Gaussian blur (pixels) of the regions' diffuse levels: anti-aliases the
#: pixel-sampled region masks before they are (Fourier-)resampled on a distorted scan.
_DIFFUSE_SIGMA = 0.7


def _render_diffuse(scene: Scene, probe: _Probe, grid_shape: tuple[int, int], margin: int,
                    shift: tuple[float, float]) -> np.ndarray | None:
    """The regions' diffuse levels on the padded grid, blurred; None if every level is 0."""
    if not any(r.level for r in scene.regions):
        return None
    px = scene.pixel_size
    y = (np.arange(grid_shape[0]) - margin) * px - shift[0]
    x = (np.arange(grid_shape[1]) - margin) * px - shift[1]
    level = scene.diffuse_level(y[:, None], x[None, :])
    transfer = probe._diffuse_otf(grid_shape, px) * _gaussian_otf(_DIFFUSE_SIGMA, tuple(grid_shape))
    spec = scipy.fft.rfft2(level, workers=-1)
    spec *= transfer
    return scipy.fft.irfft2(spec, s=grid_shape, workers=-1)


def _sample_rows(img_p: np.ndarray, margin: int, dy_px: np.ndarray, dx_px: np.ndarray, nx: int) -> np.ndarray:
    """Band-limited (Fourier) interpolation of a periodic image on a distorted scan.

    Output row ``i`` samples ``img_p`` at padded coordinates ``(i + margin + dy_px[i],
    j + margin + dx_px[i])``, exactly for the trigonometric interpolant of ``img_p``.
    """
    npy, npx = img_p.shape
    u = np.arange(len(dy_px)) + margin + dy_px
    ky = scipy.fft.rfftfreq(npy)
    # D[i, n] = Dirichlet kernel (n - u_i): value at u_i of the periodic interpolant
    dmat = scipy.fft.irfft(np.exp(-2j * np.pi * np.outer(u, ky)), n=npy, axis=1)
    rows = dmat @ img_p
    spec = scipy.fft.rfft(rows, axis=1, workers=-1)
    kx = scipy.fft.rfftfreq(npx)
    spec *= np.exp(2j * np.pi * np.outer(dx_px, kx))
    return scipy.fft.irfft(spec, n=npx, axis=1, workers=-1)[:, margin : margin + nx]


def _apparent_positions(
    pos: np.ndarray, delta: np.ndarray, pixel_size: float, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Where lab-frame columns appear in a scan with per-row displacements.

    Row ``i`` samples lab ``y = i * px + delta[i, 0]``; between rows the displacement
    is interpolated linearly. A column appears at the (fractional) row ``s`` where the
    sampled ``y`` equals its ``y`` (the crossing nearest its undistorted row when
    jitter folds rows), at ``x - delta_x(s)``. Returns the apparent positions (M, 2)
    and the indices (M,) of the columns that appear inside the image.
    """
    ny, nx = shape
    if len(pos) == 0:
        return np.empty((0, 2)), np.empty(0, dtype=np.int64)
    px = pixel_size
    dext = np.concatenate([delta[:1], delta, delta[-1:]])  # rows -1 .. ny
    g = (np.arange(-1, ny + 1)) * px + dext[:, 0]
    kmax = int(math.ceil(np.abs(delta[:, 0]).max() / px)) + 2
    nominal = pos[:, 0] / px
    start = np.floor(nominal).astype(np.int64)[:, None] + np.arange(-kmax, kmax + 1)  # segment [r, r+1]
    valid = (start >= -1) & (start <= ny - 1)
    seg = np.clip(start, -1, ny - 1) + 1  # index into extended arrays
    ga = g[seg] - pos[:, 0:1]
    gb = g[seg + 1] - pos[:, 0:1]
    cross = valid & ((ga <= 0) != (gb <= 0))
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(cross, ga / (ga - gb), 0.0)
    s = np.clip(start, -1, ny - 1) + frac
    dist = np.where(cross, np.abs(s - nominal[:, None]), np.inf)
    best = np.argmin(dist, axis=1)
    found = np.isfinite(dist[np.arange(len(pos)), best])
    s_best = s[np.arange(len(pos)), best]
    dx = np.interp(s_best, np.arange(-1, ny + 1), dext[:, 1])
    app = np.column_stack([s_best * px, pos[:, 1] - dx])
    inside = (
        found
        & (app[:, 0] >= -0.5 * px) & (app[:, 0] < (ny - 0.5) * px)
        & (app[:, 1] >= -0.5 * px) & (app[:, 1] < (nx - 0.5) * px)
    )
    idx = np.flatnonzero(inside)
    return app[idx], idx


@dataclass
class _Frame:
    expected: np.ndarray  # noise-free image (counts if a dose is given, else image units)
    counts: np.ndarray  # noisy image
    labels: np.ndarray
    positions: np.ndarray
    true_positions: np.ndarray
    regions: np.ndarray
    intensities: np.ndarray
    sites: np.ndarray
    displacement: np.ndarray


def _render_frame(
    scene: Scene,
    probe: _Probe,
    backgrounds: list[_Background],
    scan_noise: ScanNoise | None,
    scale: float | None,
    read_noise: float,
    shift: tuple[float, float],
    t0: float,
    rng: np.random.Generator,
) -> _Frame:
    ny, nx = scene.shape
    px = scene.pixel_size
    if scan_noise is not None:
        delta = scan_noise.displacements(ny, rng, t0)
    else:
        delta = np.zeros((ny, 2))
    distorted = bool(np.any(delta != 0))
    max_disp = float(np.abs(delta).max()) if distorted else 0.0
    margin = int(math.ceil((probe.support_radius() + max_disp) / px)) + 3
    grid_shape = (_fast_len(ny + 2 * margin), _fast_len(nx + 2 * margin))
    cols = scene.columns(margin=(margin + 1) * px, shift=shift)
    otf = probe.otf(grid_shape, px)
    img_p = _render_periodic(cols.positions / px + margin, cols.intensities, grid_shape, otf,
                             probe._peak(otf, grid_shape))
    if probe._bright_field:
        img_p += probe._bright_field
    diffuse = _render_diffuse(scene, probe, grid_shape, margin, shift)
    if diffuse is not None:
        img_p += diffuse
    if distorted:
        img = _sample_rows(img_p, margin, delta[:, 0] / px, delta[:, 1] / px, nx)
    else:
        img = img_p[margin : margin + ny, margin : margin + nx].copy()
    # specimen coordinates (relative to the centre) sampled by each pixel
    cy, cx = scene.center
    ys = np.arange(ny) * px + delta[:, 0] - shift[0] - cy
    xs = np.arange(nx) * px - shift[1] - cx
    for bg in backgrounds:
        img += bg._rows(ys, xs, delta[:, 1])
    labels = scene.label_at(ys[:, None] + cy, xs[None, :] + delta[:, 1:2] + cx)
    _check_covered(labels)
    app, idx = _apparent_positions(cols.positions, delta, px, (ny, nx))
    expected = np.clip(img, 0.0, None)
    if scale is not None:
        expected = expected * scale
        counts = rng.poisson(expected).astype(np.float64)
    else:
        counts = expected.copy()
    if read_noise > 0:
        counts += rng.normal(0.0, read_noise, counts.shape)
    return _Frame(
        expected, counts, labels, app, cols.positions[idx], cols.regions[idx], cols.intensities[idx],
        cols.sites[idx], delta,
    )
