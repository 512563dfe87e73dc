"""Saving and loading fitted models and segmentations (.hspy, .zspy).

A fitted :class:`~hyperspy_symseg.model.SegmentationModel` is stored as a small
HyperSpy signal (the cluster centres) whose ``metadata.SegmentationModel`` holds
everything else as plain values and arrays: the descriptor (class and fields), the
stride and the fitted reduction. Any HyperSpy can open it; :func:`load_model`
rebuilds the model to segment later acquisitions.

A :class:`~hyperspy_symseg.result.SymmetrySegmentation` is saved as its label
signal with the model and the grid labels in ``metadata.SymmetrySegmentation``,
plus the descriptor signal (with its calibration and operations) next to it as the
companion file ``<name>_descriptors.<ext>``; both record the same fingerprint, checked
on loading. No existing file is replaced unless ``overwrite=True`` (or a terminal user
says yes); nothing the writers cannot store (estimator objects) is written. Reading returns plain keyword arguments
(:func:`read_segmentation`); the result class builds itself from them
(:meth:`~hyperspy_symseg.result.SymmetrySegmentation.load`), so this module never imports it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import numbers
import os
import sys
import warnings
from pathlib import Path

import numpy as np

#: Version of the stored layout, checked on loading.
FORMAT_VERSION = 1


# ----------------------------------------------------------------- descriptors


def _descriptor_classes():
    from .descriptors import TranslationDescriptor
    from .descriptors.point_symmetry import PointSymmetryDescriptor
    from .descriptors.power_spectrum import PowerSpectrumDescriptor

    return {c.__name__: c for c in (TranslationDescriptor, PointSymmetryDescriptor, PowerSpectrumDescriptor)}


def _augmented_to_dict(descriptor) -> dict:
    """An AugmentedDescriptor: its base nested, None stored as 0 / empty arrays (HDF5 has no None)."""
    shifts = descriptor.lattice_shifts
    return {
        "class": "AugmentedDescriptor",
        "base": descriptor_to_dict(descriptor.base),
        "background": int(descriptor.background or 0),
        "background_sigma": float(descriptor.background_sigma),
        "lattice_shifts": np.zeros((0, 0, 2), np.int64) if shifts is None else np.asarray(shifts),
        "half_shifts": np.zeros((0, 0, 2), np.int64) if shifts is None else np.asarray(descriptor.half_shifts),
        "patch": int(descriptor.patch),
        "extra_channels": list(descriptor.extras) or ["none"],
        "stats": {k: (np.asarray(v, dtype=np.float64) if isinstance(v, tuple) else float(v))
                  for k, v in descriptor.stats.items()},
    }


def _augmented_from_dict(d: dict):
    from .descriptors._augmented import AugmentedDescriptor

    shifts = np.asarray(d["lattice_shifts"], dtype=np.int64)
    halves = np.asarray(d["half_shifts"], dtype=np.int64)
    present = shifts.size > 0
    channels = tuple(str(c) for c in d.get("extra_channels", ()) if str(c) != "none")
    stats = {k: (tuple(float(x) for x in np.atleast_1d(v)) if np.ndim(v) else float(v))
             for k, v in dict(d.get("stats", {})).items()}
    return AugmentedDescriptor(
        descriptor_from_dict(dict(d["base"])), background=int(d["background"]) or None,
        background_sigma=float(d["background_sigma"]),
        lattice_shifts=shifts.reshape(shifts.shape[0], -1, 2) if present else None,
        half_shifts=halves.reshape(halves.shape[0], -1, 2) if present else None,
        patch=int(d["patch"]), extras=channels, stats=stats,
    )


def descriptor_to_dict(descriptor) -> dict:
    """Plain-value description of a descriptor object (its class and fields)."""
    if type(descriptor).__name__ == "AugmentedDescriptor":
        return _augmented_to_dict(descriptor)
    out = {"class": type(descriptor).__name__}
    for f in dataclasses.fields(descriptor):
        value = getattr(descriptor, f.name)
        out[f.name] = _plain(value)
    return out


def descriptor_from_dict(d: dict):
    """Inverse of :func:`descriptor_to_dict`."""
    classes = _descriptor_classes()
    name = d.get("class")
    if name == "AugmentedDescriptor":
        return _augmented_from_dict(d)
    if name not in classes:
        raise ValueError(f"unknown descriptor class {name!r}; known: {', '.join(classes)}.")
    cls = classes[name]
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in d:
            continue
        value = d[f.name]
        if f.name in ("shifts", "channels"):
            value = np.asarray(value, dtype=np.int64).reshape(-1, 2)
        elif f.name in ("kinds", "angles", "extent") and value is not None:
            value = tuple(float(v) if f.name == "angles" else (int(v) if f.name == "extent" else str(v)) for v in value)
        elif f.name == "parameters":
            value = {k: _python(tuple(v) if isinstance(v, list) else v) for k, v in dict(value).items()}
        else:
            value = _python(value)
        kwargs[f.name] = value
    return cls(**kwargs)


def _python(value):
    """NumPy scalars read back from a file as Python ones (int, float, bool), tuples element-wise."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return tuple(_python(v) for v in value)
    return value


def _plain(value):
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return tuple(_plain(v) for v in value)
    if isinstance(value, np.generic):
        return value.item()
    return value


# -------------------------------------------------------------------- reducers


def reducer_to_dict(reducer) -> dict:
    """Plain-value description of a fitted reduction (covariance PCA, NMF or N-FINDR)."""
    from sklearn.decomposition import NMF

    from ._learn import CovariancePCA
    from .unmixing import NFINDR

    if isinstance(reducer, CovariancePCA):
        return {
            "kind": "PCA",
            "n_components": reducer.n_components,
            "center": reducer.center_,
            "components": reducer.components_,
            "explained_variance": reducer.explained_variance_,
            "explained_variance_ratio": reducer.explained_variance_ratio_,
        }
    if isinstance(reducer, NFINDR):
        return {
            "kind": "nfindr",
            "n_components": int(reducer.n_components),
            "sum_to_one": bool(reducer.sum_to_one),
            "components": reducer.components_,
            "endmember_indices": np.asarray(reducer.endmember_indices_),
        }
    if isinstance(reducer, NMF):
        params = {k: v for k, v in reducer.get_params().items() if isinstance(v, (int, float, str, bool)) or v is None}
        return {"kind": "NMF", "params": params, "components": reducer.components_}
    raise TypeError(f"cannot store a reduction of type {type(reducer).__name__}.")


def reducer_from_dict(d: dict):
    """Inverse of :func:`reducer_to_dict`: a fitted estimator with ``transform``."""
    kind = d.get("kind")
    if kind == "PCA":
        from ._learn import CovariancePCA

        r = CovariancePCA(d["n_components"])
        r.center_ = np.asarray(d["center"], dtype=np.float64)
        r.components_ = np.asarray(d["components"], dtype=np.float64)
        r.explained_variance_ = np.asarray(d["explained_variance"], dtype=np.float64)
        r.explained_variance_ratio_ = np.asarray(d["explained_variance_ratio"], dtype=np.float64)
        r.n_components_ = r.components_.shape[0]
        return r
    if kind == "nfindr":
        from .unmixing import NFINDR

        r = NFINDR(int(d["n_components"]), sum_to_one=bool(d["sum_to_one"]))
        r.components_ = np.asarray(d["components"], dtype=np.float64)
        r.endmember_indices_ = np.asarray(d["endmember_indices"])
        r.n_components_ = r.components_.shape[0]
        return r
    if kind == "NMF":
        from ._learn import ExactNMF

        r = ExactNMF(**{k: v for k, v in dict(d["params"]).items()})
        r.components_ = np.asarray(d["components"])  # keep its dtype: sklearn wants that of the data
        r.n_components_ = r.components_.shape[0]
        r.n_features_in_ = r.components_.shape[1]
        return r
    raise ValueError(f"unknown reduction kind {kind!r}; known: PCA, NMF, nfindr.")


# ----------------------------------------------------------------------- models


def model_to_dict(model) -> dict:
    out = {
        "format_version": FORMAT_VERSION,
        "descriptor": descriptor_to_dict(model.descriptor),
        "stride": int(model.stride),
        "reducer": reducer_to_dict(model.reducer),
        "centers": model.centers,
    }
    refiner = getattr(model, "refiner", None)
    if refiner is not None:  # absent from files of models without one (and of older versions)
        out["refiner"] = {
            "descriptor": descriptor_to_dict(refiner.descriptor),
            "weights": refiner.weights,
            "bias": refiner.bias,
            "variances": refiner.variances,
            "patch": int(refiner.patch),
            "reach": float(refiner.reach),
            "stride": int(refiner.stride),
            **({} if refiner.overlayer is None else {"overlayer": np.asarray(refiner.overlayer, dtype=np.uint8)}),
        }
    split = getattr(model, "intensity_split", None)
    if split is not None:  # absent from files of models without one (and of older versions)
        out["intensity_split"] = {
            "patterns": np.asarray(split.patterns, dtype=np.int64), "means": split.means,
            "variance": split.variance, "weights": split.weights, "channels": np.asarray(split.channels, dtype=np.int64),
        }
    return out


def _split_from_dict(d):
    from ._intensity_split import IntensitySplit

    if d is None:
        return None
    return IntensitySplit(np.asarray(d["patterns"], dtype=np.int64), np.asarray(d["means"], dtype=np.float64),
                          np.asarray(d["variance"], dtype=np.float64), np.asarray(d["weights"], dtype=np.float64),
                          tuple(int(c) for c in np.asarray(d["channels"]).ravel()))


def _refiner_from_dict(d):
    from ._boundary_refine import BoundaryRefiner

    if d is None:
        return None
    return BoundaryRefiner(
        descriptor_from_dict(d["descriptor"]), np.asarray(d["weights"], dtype=np.float64),
        np.asarray(d["bias"], dtype=np.float64), np.asarray(d["variances"], dtype=np.float64),
        int(d["patch"]), float(d["reach"]), int(d["stride"]),
        None if d.get("overlayer") is None else np.asarray(d["overlayer"], dtype=bool),
    )


def model_from_dict(d: dict):
    from .model import SegmentationModel

    version = int(d.get("format_version", 0))
    if version != FORMAT_VERSION:
        raise ValueError(f"stored model format {version} is not supported by this version (format {FORMAT_VERSION}).")
    return SegmentationModel(
        descriptor_from_dict(d["descriptor"]), int(d["stride"]), reducer_from_dict(d["reducer"]),
        np.asarray(d["centers"], dtype=np.float64), refiner=_refiner_from_dict(d.get("refiner")),
        intensity_split=_split_from_dict(d.get("intensity_split")),
    )


def as_model(model):
    """The :class:`~hyperspy_symseg.model.SegmentationModel` of a model, a result or a saved file.

    ``model`` is a fitted model, anything holding one as ``.model`` (a
    segmentation result), or the path (str or Path) of a file written by
    :func:`save_model` or :func:`save_segmentation`.
    """
    from .model import SegmentationModel

    if isinstance(model, (str, os.PathLike)):
        if not Path(model).exists():
            raise FileNotFoundError(f"model file {str(model)!r} does not exist (a .hspy/.zspy file from save_model or seg.save).")
        return load_model(model)
    inner = getattr(model, "model", model)
    if not isinstance(inner, SegmentationModel):
        raise TypeError(
            "model must be a SegmentationModel (hyperspy_symseg.load_model), a SymmetrySegmentation or the path of a "
            f"saved model (.hspy/.zspy); got {type(model).__name__}."
        )
    return inner


def _check_format(filename) -> str:
    suffix = Path(filename).suffix.lower()
    if suffix not in (".hspy", ".zspy"):
        raise ValueError(f"filename must end in .hspy or .zspy (HyperSpy's formats), got {str(filename)!r}.")
    return suffix


# ------------------------------------------------------------- overwriting


def _interactive() -> bool:
    stdin = sys.stdin
    try:
        return stdin is not None and stdin.isatty()
    except (AttributeError, ValueError):  # closed or replaced streams
        return False


def confirm_overwrite(paths, overwrite: bool | None) -> bool:
    """Whether to write ``paths``: never replaces an existing file without being told to.

    ``overwrite=True`` writes; ``False`` raises FileExistsError if any path exists;
    ``None`` asks on a terminal when one exists (answer "n": nothing is written, returns
    False) and raises FileExistsError when there is no terminal to ask (a batch job
    must not believe it saved). Checked for all paths before anything is written.
    """
    if overwrite is not None and not isinstance(overwrite, (bool, np.bool_)):
        raise TypeError(f"overwrite must be True, False or None; got {overwrite!r}.")
    existing = [str(p) for p in paths if Path(p).exists()]
    if not existing or overwrite:
        return True
    names = ", ".join(repr(p) for p in existing)
    if overwrite is None and _interactive():
        answer = input(f"Overwrite {names} (y/n)? ").strip().lower()
        if answer in ("y", "yes"):
            return True
        print(f"Nothing written: {names} kept.")
        return False
    reason = "overwrite=False" if overwrite is False else "overwrite=None and there is no terminal to ask"
    raise FileExistsError(f"{names} already exist(s) ({reason}); nothing was written. Pass overwrite=True to replace.")


def save_model(model, filename, overwrite: bool | None = None) -> bool:
    """Save a fitted model (or the model of a segmentation result) to .hspy or .zspy.

    Parameters
    ----------
    model : SegmentationModel or SymmetrySegmentation
    filename : str or Path
        Ending in ``.hspy`` or ``.zspy``.
    overwrite : bool or None
        An existing file is replaced only with True; False raises FileExistsError; None
        asks on a terminal and raises FileExistsError without one (see
        :func:`confirm_overwrite`).

    Returns
    -------
    bool
        True if the file was written (False only if a terminal user declined).
    """
    from hyperspy.signals import BaseSignal

    _check_format(filename)
    model = as_model(model)
    if not confirm_overwrite([filename], overwrite):
        return False
    s = BaseSignal(model.centers)
    s.metadata.General.title = f"Segmentation model: {model.descriptor.name}, {model.n_patterns} patterns"
    s.metadata.set_item("SegmentationModel", model_to_dict(model))
    s.save(filename, overwrite=True)
    return True


def load_model(filename):
    """Load a model saved by :func:`save_model` (or the model of a saved segmentation)."""
    import hyperspy.api as hs

    _check_format(filename)
    s = hs.load(filename)
    stored = s.metadata.get_item("SegmentationModel") or s.metadata.get_item("SymmetrySegmentation.model")
    if stored is None:
        raise ValueError(f"{filename} holds no segmentation model (no metadata.SegmentationModel).")
    return model_from_dict(stored.as_dictionary())


# ---------------------------------------------------------------- segmentations


def _descriptors_path(filename) -> Path:
    p = Path(filename)
    return p.with_name(f"{p.stem}_descriptors{p.suffix}")


def fingerprint(seg) -> str:
    """What ties a saved label file to its descriptor file: a hash of the model and the grid labels."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(seg.model.centers, dtype=np.float64).tobytes())
    grid = np.ascontiguousarray(seg.grid_labels)
    h.update(str((grid.shape, grid.dtype.str)).encode())
    h.update(grid.tobytes())
    h.update(repr(descriptor_to_dict(seg.model.descriptor).get("parameters")).encode())
    return h.hexdigest()[:32]


def _storable(value) -> bool:
    """Whether RosettaSciIO's hspy/zspy writers store ``value`` (plain values and numeric arrays)."""
    if value is None or isinstance(value, (str, bool, numbers.Number, np.generic)):
        return True
    if isinstance(value, np.ndarray):
        return value.dtype != object
    if isinstance(value, (list, tuple)):
        return all(_storable(v) for v in value)
    return False


@contextlib.contextmanager
def _storable_learning_results(signal):
    """Inside the block, the signal's learning results hold only what the writer can store.

    Estimator objects (e.g. ``decomposition_algorithm = CovariancePCA()``) become their
    text; everything is restored afterwards, so the caller's signal is unchanged.
    """
    results = getattr(signal, "learning_results", None)
    saved = {}
    if results is not None:
        for key, value in list(vars(results).items()):
            if not _storable(value):
                saved[key] = value
                setattr(results, key, repr(value))
    try:
        yield
    finally:
        for key, value in saved.items():
            setattr(results, key, value)


def save_segmentation(seg, filename, overwrite: bool | None = None, descriptors: bool = True) -> bool:
    """Save a segmentation result: labels with the model, and the descriptors next to them.

    Parameters
    ----------
    seg : SymmetrySegmentation
    filename : str or Path
        Ending in ``.hspy`` or ``.zspy``; the descriptors go to the companion file
        ``<stem>_descriptors<ext>`` next to it.
    overwrite : bool or None
        Existing files are replaced only with True; False raises FileExistsError;
        None asks on a terminal and raises FileExistsError without one. Both files are
        checked before either is written.
    descriptors : bool
        Also save the descriptor signal (needed for separability and fast models after
        loading). Both files record the same :func:`fingerprint`, so a descriptor file
        left from another segmentation is never paired with these labels on loading.

    Returns
    -------
    bool
        True if written (False only if a terminal user declined to overwrite).
    """
    _check_format(filename)
    with_descriptors = bool(descriptors) and seg.descriptors is not None
    paths = [Path(filename)] + ([_descriptors_path(filename)] if with_descriptors else [])
    if not confirm_overwrite(paths, overwrite):
        return False
    stamp = fingerprint(seg)
    labels = seg.labels.deepcopy()
    labels.metadata.set_item("SymmetrySegmentation.model", model_to_dict(seg.model))
    labels.metadata.set_item("SymmetrySegmentation.grid_labels", np.asarray(seg.grid_labels))
    labels.metadata.set_item("SymmetrySegmentation.fingerprint", stamp)
    if seg.reference_frames is not None:
        labels.metadata.set_item("SymmetrySegmentation.reference_frames", np.asarray(seg.reference_frames))
    labels.save(filename, overwrite=True)
    if with_descriptors:
        d = seg.descriptors
        had = d.metadata.has_item("SymmetryDescriptors.segmentation_fingerprint")
        previous = d.metadata.get_item("SymmetryDescriptors.segmentation_fingerprint") if had else None
        d.metadata.set_item("SymmetryDescriptors.segmentation_fingerprint", stamp)
        try:
            with _storable_learning_results(d):
                d.save(paths[1], overwrite=True)
        finally:
            if had:
                d.metadata.set_item("SymmetryDescriptors.segmentation_fingerprint", previous)
            else:
                del d.metadata.SymmetryDescriptors.segmentation_fingerprint
    return True


def read_segmentation(filename, lazy: bool = False) -> dict:
    """The parts of a segmentation saved by :func:`save_segmentation`, as keyword arguments.

    Returns a dict with ``labels`` (signal), ``descriptors`` (signal or None), ``model``
    (:class:`~hyperspy_symseg.model.SegmentationModel`), ``grid_labels`` (ndarray),
    ``parameters`` (dict) and ``reference_frames`` (ndarray or None), from which
    :meth:`hyperspy_symseg.result.SymmetrySegmentation.load` builds the result (this
    module never imports the result class). A companion descriptor file that does not
    belong to these labels (another fingerprint, or another number of grid points) is
    left out with a warning.
    """
    import hyperspy.api as hs

    _check_format(filename)
    if not Path(filename).exists():
        raise FileNotFoundError(f"{str(filename)!r} does not exist.")
    labels = hs.load(filename, lazy=lazy)
    info = labels.metadata.get_item("SymmetrySegmentation")
    if info is None or info.get_item("model") is None:
        raise ValueError(f"{filename} holds no segmentation (no metadata.SymmetrySegmentation.model).")
    info = info.as_dictionary()
    model = model_from_dict(info.pop("model"))
    grid_labels = np.asarray(info.pop("grid_labels"))
    reference_frames = info.pop("reference_frames", None)
    stamp = info.pop("fingerprint", None)
    path = _descriptors_path(filename)
    descriptors = hs.load(path, lazy=lazy) if path.exists() else None
    if descriptors is not None:
        theirs = descriptors.metadata.get_item("SymmetryDescriptors.segmentation_fingerprint", None)
        size = int(np.prod(descriptors.data.shape[:-1], dtype=np.int64))
        reason = None
        if stamp is not None and theirs != stamp:
            reason = "it was saved with another segmentation (fingerprints differ)"
        elif size != grid_labels.size:
            reason = f"it holds {size} grid points, the labels {grid_labels.size}"
        if reason is not None:
            warnings.warn(
                f"{str(path)!r} is not loaded as the descriptors of {str(filename)!r}: {reason}. "
                "Separability and select_operations need the descriptors: save the segmentation again with them.",
                stacklevel=4,
            )
            descriptors = None
    return {
        "labels": labels, "descriptors": descriptors, "model": model, "grid_labels": grid_labels,
        "parameters": info, "reference_frames": None if reference_frames is None else np.asarray(reference_frames),
    }
