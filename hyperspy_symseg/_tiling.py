"""Images too large to hold whole: per-frame statistics and sampled tiles, with dask.

* :func:`frame_std` - the standard deviation of every frame of a dask array in one
  streaming pass (memory: a chunk at a time), free of overflow for any finite
  magnitude. Tiles of a frame use it as the reference for their flat-patch test, so a
  tile is judged exactly as the whole frame would be.
* :func:`sample_tiles` and :func:`sampled_descriptors` - descriptors on a random sample
  of tiles of some frames, at most ``max_points`` grid points: a model can be fitted on
  a lazy image of any size with bounded memory.

NumPy and dask only; no HyperSpy.
"""

from __future__ import annotations

import numpy as np

from .descriptors.translation import ROUNDING

#: Bytes of descriptors (float32) a lazy fit may hold: beyond this, the model is fitted
#: on a random sample of tiles (:func:`fit_budget_points`).
FIT_BUDGET_BYTES = 64 * 2**20

#: Side, in descriptor grid points, of the sampled tiles (a tile is
#: ``TILE_POINTS * stride`` px plus the descriptor's halo on every side).
TILE_POINTS = 64


def fit_budget_points(n_operations: int, max_samples: int = 0) -> int:
    """Grid points a lazy fit holds at most: FIT_BUDGET_BYTES of float32 descriptors (>= max_samples)."""
    return int(max(max_samples, FIT_BUDGET_BYTES // (4 * max(1, int(n_operations)))))


def _block_moments(block: np.ndarray) -> np.ndarray:
    """(..., 1, 1, 4) count, exponent, scaled mean and scaled M2 of every frame of a block."""
    lead = block.shape[:-2]
    x = np.asarray(block, dtype=np.float64).reshape(lead + (-1,))
    peak = np.max(np.abs(x), axis=-1) if x.shape[-1] else np.zeros(lead)
    exponent = np.frexp(peak)[1].astype(np.float64)
    scaled = np.ldexp(x, -exponent.astype(np.int64)[..., None])
    mean = scaled.mean(axis=-1)
    m2 = ((scaled - mean[..., None]) ** 2).sum(axis=-1)
    out = np.empty(lead + (1, 1, 4))
    out[..., 0, 0, 0] = x.shape[-1]
    out[..., 0, 0, 1] = exponent
    out[..., 0, 0, 2] = mean
    out[..., 0, 0, 3] = m2
    return out


def _combine(parts: np.ndarray) -> np.ndarray:
    """Standard deviations (...) from the moments (..., blocks, 4) of the blocks of each frame."""
    n, e, mean, m2 = (parts[..., k] for k in range(4))
    top = e.max(axis=-1, keepdims=True)
    shift = (e - top).astype(np.int64)
    mean = np.ldexp(mean, shift)
    m2 = np.ldexp(m2, 2 * shift)
    total = n.sum(axis=-1)
    grand = (n * mean).sum(axis=-1) / total
    m2 = (m2 + n * (mean - grand[..., None]) ** 2).sum(axis=-1)
    std = np.sqrt(m2 / total)  # in units of 2**top >= the largest magnitude
    std = np.where(std <= ROUNDING * 0.5, 0.0, std)  # rounding noise: a constant frame
    return np.ldexp(std, top[..., 0].astype(np.int64))


def frame_std(data) -> np.ndarray:
    """Population standard deviation of every frame of a dask array ``(..., H, W)``.

    Returns a float64 ndarray of the navigation shape ``data.shape[:-2]``. One pass
    over the data, a chunk at a time; every block's values are scaled by a power of two
    before squaring, so any finite magnitude (1e-300 to 1e300) works.
    """
    import dask.array as da

    chunks = data.chunks[:-2] + ((1,) * len(data.chunks[-2]), (1,) * len(data.chunks[-1]), (4,))
    parts = da.map_blocks(_block_moments, data, dtype=np.float64, chunks=chunks, new_axis=data.ndim).compute()
    parts = parts.reshape(parts.shape[:-3] + (-1, 4))
    return _combine(parts)


def numpy_frame_std(frame: np.ndarray) -> float:
    """:func:`frame_std` of one in-memory frame (H, W)."""
    return float(_combine(_block_moments(frame).reshape(1, 4))) if np.size(frame) else 0.0


def sample_tiles(n_frames: int, grid_shape: tuple[int, int], max_points: int, random_state=None,
                 tile_points: int | None = None) -> list[tuple[int, int, int, int, int]]:
    """A random set of tiles of the descriptor grids of some frames, with at most ``max_points`` points.

    The grid ``(ny, nx)`` of every frame is cut into tiles of ``tile_points`` x
    ``tile_points`` grid points (default :data:`TILE_POINTS`; only whole tiles when the
    grid holds any, so the sample is a stack of equal grids); tiles are drawn without replacement (``random_state``)
    while their points fit in ``max_points`` (at least one tile is kept). Returns
    ``(frame, i0, i1, j0, j1)`` grid-index ranges, sorted.
    """
    ny, nx = grid_shape
    tile_points = TILE_POINTS if tile_points is None else int(tile_points)
    ti = np.arange(0, ny, tile_points)
    tj = np.arange(0, nx, tile_points)
    tiles = [(f, i, min(ny, i + tile_points), j, min(nx, j + tile_points)) for f in range(n_frames) for i in ti for j in tj]
    full = [t for t in tiles if t[2] - t[1] == tile_points and t[4] - t[3] == tile_points]
    if full:  # whole tiles only: the sample is then a stack of equal grids (for the spatial checks of n_patterns="auto")
        tiles = full
    order = np.random.default_rng(random_state).permutation(len(tiles))
    chosen, total = [], 0
    for k in order:
        f, i0, i1, j0, j1 = tiles[k]
        size = (i1 - i0) * (j1 - j0)
        if chosen and total + size > max_points:
            continue
        chosen.append(tiles[k])
        total += size
    return sorted(chosen)


def tile_pixels(grid, image_shape, halo: int, i0: int, i1: int, j0: int, j1: int):
    """Pixel box ``(y0, y1, x0, x1)`` holding grid points [i0, i1) x [j0, j1) with ``halo`` px around."""
    y0 = max(0, grid.y0 + i0 * grid.stride - halo)
    y1 = min(image_shape[0], grid.y0 + (i1 - 1) * grid.stride + halo + 1)
    x0 = max(0, grid.x0 + j0 * grid.stride - halo)
    x1 = min(image_shape[1], grid.x0 + (j1 - 1) * grid.stride + halo + 1)
    return y0, y1, x0, x1


#: Tiles read together (one dask computation shares the chunks they overlap).
READ_BATCH = 8


def _read(frames, boxes):
    """The pixel boxes ``(frame, y0, y1, x0, x1)`` of ``frames`` as NumPy arrays."""
    slices = [frames[f, y0:y1, x0:x1] for f, y0, y1, x0, x1 in boxes]
    if hasattr(frames, "dask"):
        import dask

        return [np.asarray(b) for b in dask.compute(*slices)]
    return [np.asarray(b) for b in slices]


def sampled_descriptors(frames, spec, stride: int, tiles, stds) -> tuple[np.ndarray, np.ndarray]:
    """Descriptors of the grid points of ``tiles`` of ``frames`` (F, H, W), dask or NumPy.

    Every tile is read with the descriptor's halo around it (a few tiles at a time) and
    scored with its frame's standard deviation ``stds[frame]`` as the flat-patch
    reference, so the values equal those of the whole frame's descriptors at the same
    grid points.

    Returns
    -------
    features : (n_points, n_operations) float32 ndarray
    positions : (n_points, 3) int64 ndarray
        ``(frame, grid row, grid column)`` of every point, in the order of ``features``.
    """
    from . import _validation as check
    from .descriptors import DescriptorGrid

    stds = np.asarray(stds, dtype=np.float64)
    if not np.all(np.isfinite(stds)):
        check.check_finite(np.array([np.nan]))  # the signal's NaN/inf message
    height, width = frames.shape[-2:]
    grid = spec.grid((height, width), stride)
    halo = int(spec.halo)
    features, positions = [], []
    for start in range(0, len(tiles), READ_BATCH):
        batch = tiles[start : start + READ_BATCH]
        boxes = [(f,) + tile_pixels(grid, (height, width), halo, i0, i1, j0, j1) for f, i0, i1, j0, j1 in batch]
        for (f, i0, i1, j0, j1), (_, y0, y1, x0, x1), block in zip(batch, boxes, _read(frames, boxes)):
            check.check_finite(block)
            sub = DescriptorGrid(grid.y0 + i0 * grid.stride - y0, grid.x0 + j0 * grid.stride - x0, i1 - i0, j1 - j0,
                                 grid.stride)
            values = spec.compute(block, stride, grid=sub, origin=(y0, x0), reference_std=float(stds[f]))
            features.append(values.reshape(-1, values.shape[-1]))
            ii, jj = np.meshgrid(np.arange(i0, i1), np.arange(j0, j1), indexing="ij")
            positions.append(np.stack([np.full(ii.size, f), ii.ravel(), jj.ravel()], axis=1))
    return np.concatenate(features).astype(np.float32, copy=False), np.concatenate(positions).astype(np.int64)
