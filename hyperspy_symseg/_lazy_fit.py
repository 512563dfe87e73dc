"""The descriptors a model is fitted on: whole frames, or a bounded sample of tiles of a lazy image.

An in-memory signal, or a lazy one whose fitted frames have few enough descriptor grid
points (:func:`hyperspy_symseg._tiling.fit_budget_points`: 64 MiB of float32
descriptors, ~200 000 points with 81 operations), is fitted on every grid point of its
reference frames, exactly as the eager route. A larger lazy image is fitted on a random
sample of tiles (64 x 64 grid points each, chosen with ``random_state``) holding at most
that many points: the memory of the fit stays bounded whatever the image size, and the
labels of every pixel then come chunk by chunk from the model. The only difference
from the eager route is that the fit sees a sample; the descriptors of the sampled
points are the same numbers as the whole frame's.
"""

from __future__ import annotations

import copy

import numpy as np

from ._pipeline import _descriptors_of
from ._signal_utils import _descriptor_signal, _frames, _reference_signal
from ._tiling import fit_budget_points, frame_std, sample_tiles, sampled_descriptors


def _n_fit_points(signal, reference_frames, spec, stride) -> int:
    height, width = signal.data.shape[-2:]
    grid = spec.grid((height, width), stride)
    n_frames = int(np.prod(signal.data.shape[:-2], dtype=np.int64))
    n_fit = n_frames if reference_frames is None else len(reference_frames)
    return n_fit * grid.ny * grid.nx


def is_sampled(descriptors) -> bool:
    """Whether a descriptor signal holds a sample of tiles (see the module docstring)."""
    return descriptors is not None and descriptors.metadata.has_item("SymmetryDescriptors.sample_tiles")


def grid_shape(descriptors) -> tuple:
    """The grid the fitted points lie on, ``(..., ny, nx)``: the frames' grids, or the stack of
    sampled tiles ``(n_tiles, t, t)`` (points in tile order, each tile row by row)."""
    if not is_sampled(descriptors):
        return tuple(np.asarray(descriptors.data).shape[:-1])
    tiles = np.asarray(descriptors.metadata.SymmetryDescriptors.sample_tiles)
    sizes = {(int(i1 - i0), int(j1 - j0)) for _, i0, i1, j0, j1 in tiles}
    if len(sizes) == 1:
        (ty, tx), = sizes
        return (len(tiles), ty, tx)
    return (int(np.asarray(descriptors.data).shape[0]), 1)  # unequal tiles: no spatial layout


def fit_descriptors(signal, reference_frames, spec, stride, max_samples, random_state, show_progressbar, num_workers):
    """``(descriptors, reference)``: the descriptor signal to fit on and the in-memory reference
    frames it was computed from (None for a sample of tiles of a lazy signal)."""
    budget = fit_budget_points(spec.n_operations, max_samples)
    if not signal._lazy or _n_fit_points(signal, reference_frames, spec, stride) <= budget:
        reference = _reference_signal(signal, reference_frames)
        return _descriptors_of(reference, spec, stride, show_progressbar, num_workers, lazy=False), reference
    frames = _frames(signal)
    indices = np.arange(frames.shape[0]) if reference_frames is None else np.asarray(reference_frames, dtype=np.int64)
    tiles = sample_tiles(len(indices), spec.grid(frames.shape[-2:], stride).shape, budget, random_state)
    return _sampled_signal(signal, frames, indices, spec, stride, np.asarray(tiles, dtype=np.int64)), None


def refit_descriptors(descriptors, signal, reference_frames, spec, stride, show_progressbar, num_workers):
    """The descriptors of the points ``descriptors`` was computed on, with another ``spec``
    (e.g. a subset of the operations): the same frames, or the same sampled tiles."""
    if not is_sampled(descriptors):
        reference = _reference_signal(signal, reference_frames)
        return _descriptors_of(reference, spec, stride, show_progressbar, num_workers, lazy=False)
    info = descriptors.metadata.SymmetryDescriptors
    frames = _frames(signal)
    return _sampled_signal(signal, frames, np.asarray(info.sample_frames), spec, stride, np.asarray(info.sample_tiles))


def _sampled_signal(signal, frames, indices, spec, stride, tiles):
    """A Signal1D (sample point | operation) of the descriptors of ``tiles`` of frames ``indices``."""
    from hyperspy.signals import Signal1D

    chosen = frames if np.array_equal(indices, np.arange(frames.shape[0])) else frames[indices]
    stds = frame_std(chosen)
    features, positions = sampled_descriptors(chosen, spec, stride, [tuple(t) for t in tiles], stds)
    grid = spec.grid(frames.shape[-2:], stride)
    template = _descriptor_signal(signal, np.zeros((1, 1, spec.n_operations), dtype=np.float32), spec, grid)
    metadata = copy.deepcopy(template.metadata.as_dictionary())
    info = metadata["SymmetryDescriptors"]
    info["sample_frames"] = np.asarray(indices, dtype=np.int64)
    info["sample_tiles"] = np.asarray(tiles, dtype=np.int64)
    info["sample_positions"] = np.stack([
        np.asarray(indices)[positions[:, 0]], grid.y0 + grid.stride * positions[:, 1], grid.x0 + grid.stride * positions[:, 2],
    ], axis=1)
    info["sample_positions_order"] = "(frame, row px, column px) of every sample point"
    metadata["General"]["title"] = f"{metadata['General']['title']} (sample of {len(tiles)} tiles)"
    axes = [{"name": "sample point", "size": len(features), "navigate": True},
            {"name": "operation", "size": spec.n_operations, "navigate": False}]
    return Signal1D(features, axes=axes, metadata=metadata)
