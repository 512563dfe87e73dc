"""The fitted segmentation model, independent of HyperSpy.

A :class:`SegmentationModel` is what a segmentation learned: the descriptor (its
symmetry operations and sampling), the stride, the fitted dimension reduction and
the cluster centres. It labels NumPy images, any part of an image (a tile with a
margin, for images that do not fit in memory) and dask arrays chunk by chunk. It is
small and picklable, so dask (and dask.distributed workers) can carry it.
"""

from __future__ import annotations

import numba
import numpy as np

from ._learn import nearest_centre
from ._tiling import frame_std
from ._threading import serialised
from ._validation import check_int
from .descriptors import DescriptorGrid, nearest_grid_index


def label_dtype(n_patterns: int):
    """The smallest unsigned integer type holding the labels 0 .. n_patterns - 1."""
    if n_patterns <= 2**8:
        return np.uint8
    if n_patterns <= 2**16:
        return np.uint16
    return np.uint32


@serialised
@numba.njit(cache=True, nogil=True, parallel=True)
def _count(flat, n, parts):
    size = flat.shape[0]
    n_parts = parts.shape[0]
    for p in numba.prange(n_parts):
        for i in range(p * size // n_parts, (p + 1) * size // n_parts):
            v = flat[i]
            if v < n:
                parts[p, v] += 1


@numba.njit(cache=True, nogil=True)
def _count_serial(flat, n, counts):
    for i in range(flat.shape[0]):
        v = flat[i]
        if v < n:
            counts[v] += 1


#: Label images up to this many pixels are counted on one thread (~1 ms for 1024 x 1024
#: uint8): a parallel launch costs more on a busy machine (12-16 ms measured under load 3.5).
SERIAL_COUNT_SIZE = 2**22
#: Up to this many patterns the labels are counted with one ``count_nonzero`` pass per label.
SMALL_COUNT_PATTERNS = 8


def count_labels(labels: np.ndarray, n_patterns: int) -> np.ndarray:
    """(n_patterns,) int64 pixel count of every label (np.bincount without the int64 copy)."""
    flat = np.ascontiguousarray(labels).reshape(-1)
    if n_patterns <= SMALL_COUNT_PATTERNS and flat.dtype.kind in "ui":
        # a few NumPy passes (~0.3 ms each at 1024 x 1024 uint8): no numba cache load in a fresh process
        return np.array([np.count_nonzero(flat == k) for k in range(n_patterns)], dtype=np.int64)
    if flat.shape[0] <= SERIAL_COUNT_SIZE:
        counts = np.zeros(n_patterns, dtype=np.int64)
        _count_serial(flat, n_patterns, counts)
        return counts
    parts = np.zeros((4 * numba.get_num_threads(), n_patterns), dtype=np.int64)
    _count(flat, n_patterns, parts)
    return parts.sum(axis=0)


def _sub_grid(full: DescriptorGrid, i0: int, i1: int, j0: int, j1: int, oy: int, ox: int) -> DescriptorGrid:
    """Grid points ``[i0, i1] x [j0, j1]`` (inclusive) of ``full``, in the coordinates of a block at ``(oy, ox)``."""
    return DescriptorGrid(full.y0 + i0 * full.stride - oy, full.x0 + j0 * full.stride - ox, i1 - i0 + 1, j1 - j0 + 1,
                          full.stride)


def _chunks_at_least(length: int, size: int, minimum: int) -> tuple[int, ...]:
    """Chunks of ``size`` along an axis of ``length``, the last merged into its neighbour if below ``minimum``."""
    chunks = [size] * (length // size) + ([length % size] if length % size else [])
    if len(chunks) > 1 and chunks[-1] < minimum:
        last = chunks.pop()
        chunks[-1] += last
    return tuple(chunks)


class SegmentationModel:
    """Descriptor + stride + dimension reduction + cluster centres.

    Parameters
    ----------
    descriptor : descriptor object
        See :mod:`hyperspy_symseg.descriptors`.
    stride : int
    reducer : estimator
        Fitted, with ``transform(X) -> (n, n_components)`` (PCA, NMF or N-FINDR).
    centers : (n_patterns, n_components) ndarray
        Cluster centres in the reduced space; row k is label k.
    refiner : BoundaryRefiner or None
        Labels near crystal / vacuum boundaries decided again with a finer patch
        (:mod:`hyperspy_symseg._boundary_refine`); None: the nearest centre everywhere.
    intensity_split : IntensitySplit or None
        Labels among non-crystalline patterns decided by the intensity channels alone
        (:mod:`hyperspy_symseg._intensity_split`), before the refiner; None: not used.
    """

    def __init__(self, descriptor, stride: int, reducer, centers: np.ndarray, refiner=None, intensity_split=None):
        for attribute in ("grid", "compute", "halo", "n_operations"):
            if not hasattr(descriptor, attribute):
                raise TypeError(
                    f"descriptor must be a descriptor object (see hyperspy_symseg.descriptors.make_descriptor); "
                    f"got {type(descriptor).__name__}, which has no {attribute!r}."
                )
        if not hasattr(reducer, "transform"):
            raise TypeError(f"reducer must be a fitted estimator with transform(); got {type(reducer).__name__}.")
        self.descriptor = descriptor
        self.stride = check_int("stride", stride, 1)
        self.reducer = reducer
        centers = np.asarray(centers, dtype=np.float64)
        if centers.ndim != 2 or centers.shape[0] < 1 or centers.shape[1] < 1:
            raise ValueError(
                f"centers must be an (n_patterns, n_components) array with n_patterns >= 1; got shape {centers.shape}."
            )
        self.centers = centers
        if refiner is not None and refiner.n_patterns != len(centers):
            raise ValueError(f"refiner is for {refiner.n_patterns} patterns, the model has {len(centers)}.")
        self.refiner = refiner
        if intensity_split is not None and int(np.max(intensity_split.patterns)) >= len(centers):
            raise ValueError(f"intensity_split names pattern {int(np.max(intensity_split.patterns))}, the model has "
                             f"{len(centers)}.")
        self.intensity_split = intensity_split

    @property
    def n_patterns(self) -> int:
        return len(self.centers)

    @property
    def dtype(self):
        return label_dtype(self.n_patterns)

    @property
    def halo(self) -> int:
        """Overlap a tile needs beyond the pixels it labels."""
        extra = self.refiner.margin * self.stride if self.refiner is not None else 0
        return int(self.descriptor.halo) + self.stride + extra

    def reduce(self, features: np.ndarray) -> np.ndarray:
        """(..., n_components) reduced coordinates of (..., n_operations) descriptors."""
        flat = features.reshape(-1, features.shape[-1])
        return np.asarray(self.reducer.transform(flat)).reshape(features.shape[:-1] + (-1,))

    def assign(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Labels (...) and squared distances (..., n_patterns) of descriptors (..., N)."""
        reduced = self.reduce(features).reshape(-1, self.centers.shape[1])
        labels, distances = nearest_centre(reduced, self.centers)
        if self.intensity_split is not None:
            labels = self.intensity_split.apply(features.reshape(-1, features.shape[-1]), labels)
        lead = features.shape[:-1]
        return labels.reshape(lead).astype(self.dtype), distances.reshape(lead + (self.n_patterns,))

    def label_block(self, block, image_shape, offset=(0, 0), region=None, distances=False, fft_workers=None,
                    reference_std=None):
        """Labels of a region of an image, from a block of that image holding it.

        Parameters
        ----------
        block : (h, w) ndarray
            The pixels ``[oy, oy + h) x [ox, ox + w)`` of an image of ``image_shape``.
        image_shape : (H, W)
            The whole image: the descriptor grid is the whole image's.
        offset : (oy, ox)
            Position of ``block`` in the image.
        region : ((y_start, y_end), (x_start, x_end)), optional
            Pixels to label (default: the whole block). The block must extend
            :attr:`halo` pixels beyond it on every side that is not an image edge.
        distances : bool
            Also return the squared distances of every labelled pixel to every centre
            (those of its nearest grid point).
        reference_std : float, optional
            Standard deviation of the whole image (frame) the block is cut from: flat
            patches are judged against it, so a block gets the whole image's labels
            whatever it holds (see :func:`hyperspy_symseg._tiling.frame_std`). None:
            the block's own, right when the block is the whole image.

        Returns
        -------
        labels : (y_end - y_start, x_end - x_start) ndarray of :attr:`dtype`
        distances : (..., n_patterns) float64 ndarray, if asked for
        """
        oy, ox = offset
        h, w = block.shape
        (ys, ye), (xs, xe) = region if region is not None else ((oy, oy + h), (ox, ox + w))
        full = self.descriptor.grid(tuple(image_shape), self.stride)
        iy = nearest_grid_index(image_shape[0], full.y0, full.stride, full.ny)[ys:ye]
        ix = nearest_grid_index(image_shape[1], full.x0, full.stride, full.nx)[xs:xe]
        i0, i1, j0, j1 = iy.min(), iy.max(), ix.min(), ix.max()
        # With a refiner the labels of the points around the region are needed too.
        m = self.refiner.margin if self.refiner is not None else 0
        e0, e1, f0, f1 = max(0, i0 - m), min(full.ny - 1, i1 + m), max(0, j0 - m), min(full.nx - 1, j1 + m)
        sub = _sub_grid(full, e0, e1, f0, f1, oy, ox)
        if sub.y0 < 0 or sub.x0 < 0 or sub.y0 + (sub.ny - 1) * sub.stride >= h or sub.x0 + (sub.nx - 1) * sub.stride >= w:
            raise ValueError("the block does not hold the grid points of the region (too small a margin)")
        block = np.asarray(block)
        extra = {} if self.refiner is None else {"prepared": self.descriptor.prepared(block)}  # shared with the refiner
        features = self.descriptor.compute(block, full.stride, grid=sub, fft_workers=fft_workers, origin=(oy, ox),
                                           reference_std=reference_std, **extra)
        grid_labels, grid_distances = self.assign(features)
        window = (slice(i0 - e0, i1 - e0 + 1), slice(j0 - f0, j1 - f0 + 1))
        grid_distances = grid_distances[window]
        if self.refiner is not None:
            grid_labels = self.refine_grid_labels(grid_labels, block, sub, window, (oy, ox), reference_std,
                                                  extra["prepared"])
        else:
            grid_labels = grid_labels[window]
        rows, cols = (iy - i0)[:, None], (ix - j0)[None, :]
        if distances:
            return grid_labels[rows, cols], grid_distances[rows, cols]
        return grid_labels[rows, cols]

    def refine_grid_labels(self, labels, block, grid=None, window=None, offset=(0, 0), reference_std=None,
                           prepared=None):
        """:attr:`refiner`'s labels of ``labels[window]`` (see :meth:`BoundaryRefiner.refine`).

        ``labels``: the nearest-centre labels at the points of ``grid`` (block coordinates;
        default: the whole grid of ``block``, taken as a whole image), from ``block``, a
        block of the image at ``offset``. ``prepared``: the block without its background,
        if computed already.
        """
        block = np.asarray(block)
        if grid is None:
            grid = self.descriptor.grid(block.shape, self.stride)
        if prepared is None:
            prepared = self.descriptor.prepared(block)

        def fine(a0, a1, b0, b1):
            part = DescriptorGrid(grid.y0 + a0 * grid.stride, grid.x0 + b0 * grid.stride, a1 - a0, b1 - b0, grid.stride)
            return self.refiner.fine_inputs(block, part, origin=offset, reference_std=reference_std, prepared=prepared)

        return self.refiner.refine(labels, fine, window).astype(self.dtype)

    def label_frames(self, frames: np.ndarray, distances: bool = False, fft_workers=None):
        """Labels (F, H, W) of whole frames (F, H, W); optionally the distances too."""
        frames = np.asarray(frames)
        shape = frames.shape[-2:]
        out = np.empty(frames.shape, dtype=self.dtype)
        dist = np.empty(frames.shape + (self.n_patterns,)) if distances else None
        for f in range(frames.shape[0]):
            result = self.label_block(frames[f], shape, distances=distances, fft_workers=fft_workers)
            if distances:
                out[f], dist[f] = result
            else:
                out[f] = result
        return (out, dist) if distances else out

    def dask_labels(self, data, confidence: bool = False):
        """Lazy labels of a dask array ``(..., H, W)``, chunk by chunk.

        Chunks are processed independently: along the image axes they overlap by
        :attr:`halo` pixels (``map_overlap``, no padding beyond the image edges), so a
        frame or an image of any size is never held whole. When a frame spans several
        chunks, the standard deviation of every frame is computed first (one streaming
        pass, :func:`hyperspy_symseg._tiling.frame_std`) and every tile judges flat
        patches against its frame's, so tiles give the labels of whole frames. With
        ``confidence`` the result is a float32 array of the classifier's confidence (see
        :func:`hyperspy_symseg.analysis.confidence`) instead of labels.
        """
        import dask.array as da

        height, width = data.shape[-2:]
        small = [ax for ax in (-2, -1) if min(data.chunks[ax]) < self.halo and len(data.chunks[ax]) > 1]
        if small:  # overlaps need every chunk at least as large as the halo (dask would rechunk on its own)
            data = data.rechunk({data.ndim + ax: _chunks_at_least(data.shape[ax], max(self.halo, 256), self.halo)
                                 for ax in small})
        tiled = len(data.chunks[-2]) > 1 or len(data.chunks[-1]) > 1
        stds = frame_std(data) if tiled else None
        lead_starts = [np.cumsum((0,) + c) for c in data.chunks[:-2]]
        depth = {data.ndim - 2: min(self.halo, height - 1), data.ndim - 1: min(self.halo, width - 1)}
        chunks_y, chunks_x = data.chunks[-2], data.chunks[-1]
        starts_y, starts_x = np.cumsum((0,) + chunks_y), np.cumsum((0,) + chunks_x)
        model = self

        def block_labels(block, block_info=None):
            loc = block_info[0]["chunk-location"]
            cy, cx = loc[-2], loc[-1]
            y0, y1 = starts_y[cy], starts_y[cy + 1]
            x0, x1 = starts_x[cx], starts_x[cx + 1]
            by, bx = max(0, y0 - depth[data.ndim - 2]), max(0, x0 - depth[data.ndim - 1])
            lead = block.shape[:-2]
            frames = block.reshape((-1,) + block.shape[-2:])
            if stds is not None:
                index = tuple(slice(s[k], s[k + 1]) for s, k in zip(lead_starts, loc[:-2]))
                block_stds = stds[index].reshape(-1)
            out = np.empty((frames.shape[0], y1 - y0, x1 - x0), dtype=np.float32 if confidence else model.dtype)
            for f in range(frames.shape[0]):
                reference = None if stds is None else float(block_stds[f])
                labels = model.label_block(frames[f], (height, width), (by, bx), ((y0, y1), (x0, x1)), distances=confidence,
                                           reference_std=reference)
                if confidence:
                    from .analysis import confidence as confidence_of

                    out[f] = confidence_of(labels[1])
                else:
                    out[f] = labels
            return out.reshape(lead + out.shape[-2:])

        overlapped = da.overlap.overlap(data, depth=depth, boundary="none")
        return da.map_blocks(
            block_labels,
            overlapped,
            dtype=np.float32 if confidence else self.dtype,
            chunks=data.chunks,
            meta=np.empty((0,) * data.ndim, dtype=np.float32 if confidence else self.dtype),
        )
