"""Files: .hspy/.zspy round trips of labels, descriptors, results and fitted models."""

import hyperspy.api as hs
import numpy as np
import pytest
from conftest import SMALL, two_grain

import hyperspy_symseg
from hyperspy_symseg import load_model, load_segmentation, segment_with_model, symmetry_segmentation
from hyperspy_symseg.files import descriptor_from_dict, descriptor_to_dict

CASES = {
    "lcm-pca": dict(SMALL),
    "subset": dict(SMALL),  # a fast model (translation subset keeping its parent's grid)
    "rotation": dict(descriptor="rotational_symmetry_maximum_pooling", radius=5, window_x=4, window_y=4),
    "reflection-nfindr": dict(descriptor="reflection_symmetry_maximum_pooling", radius=5, window_x=4, window_y=4,
                              num_reflection_plane=6, num_max=2, decomposition_algorithm="nfindr"),
    "power-nmf": dict(descriptor="power_spectrum", window_x=8, window_y=8, decomposition_algorithm="NMF"),
}


@pytest.fixture(scope="module")
def signal():
    image, _ = two_grain()
    s = hs.signals.Signal2D(image.astype(np.float32))
    for axis, name in zip(s.axes_manager.signal_axes, ("x", "y")):
        axis.name, axis.units, axis.scale, axis.offset = name, "nm", 0.02, 1.5
    s.metadata.General.title = "bicrystal"
    return s


def fit(signal, case):
    seg = symmetry_segmentation(signal, 2, stride=3, random_state=0, **CASES[case])
    return seg.select_operations(6) if case == "subset" else seg


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("ext", [".hspy", ".zspy"])
def test_model_round_trip_segments_the_same(signal, case, ext, tmp_path):
    seg = fit(signal, case)
    path = tmp_path / f"model{ext}"
    seg.save_model(path)
    model = load_model(path)
    assert type(model.descriptor) is type(seg.descriptor)
    assert model.descriptor.operation_names() == seg.descriptor.operation_names()
    np.testing.assert_array_equal(model.centers, seg.cluster_centers)
    other = signal.deepcopy()
    other.data = two_grain(seed=5)[0].astype(np.float32)
    np.testing.assert_array_equal(segment_with_model(other, model).data, seg.predict(other).data)
    # any HyperSpy reads the file: the centres, with the model in metadata
    raw = hs.load(path)
    assert raw.data.shape == seg.cluster_centers.shape
    assert raw.metadata.SegmentationModel.descriptor["class"] == type(seg.descriptor).__name__


@pytest.mark.parametrize("ext", [".hspy", ".zspy"])
def test_segmentation_round_trip(signal, ext, tmp_path):
    seg = symmetry_segmentation(signal, 2, stride=3, random_state=0, n_components=3, **SMALL)
    path = tmp_path / f"seg{ext}"
    seg.save(path)
    assert (tmp_path / f"seg_descriptors{ext}").exists()
    back = load_segmentation(path, signal=signal)
    np.testing.assert_array_equal(back.labels.data, seg.labels.data)
    for a, b in zip(back.labels.axes_manager._axes, seg.labels.axes_manager._axes):
        assert (a.name, a.units, a.scale, a.offset) == (b.name, b.units, b.scale, b.offset)
    md = back.labels.metadata.SymmetrySegmentation
    assert md.n_patterns == 2 and md.stride == 3 and md.patch_x == SMALL["patch_x"] and md.n_components == 3
    np.testing.assert_array_equal(back.descriptors.data, seg.descriptors.data)
    assert back.descriptors.axes_manager.navigation_axes[0].scale == pytest.approx(0.06)
    np.testing.assert_array_equal(back.descriptors.metadata.SymmetryDescriptors.operations,
                                  seg.descriptors.metadata.SymmetryDescriptors.operations)
    np.testing.assert_array_equal(back.grid_labels, seg.grid_labels)
    np.testing.assert_allclose(back.separability_values(), seg.separability_values())
    np.testing.assert_array_equal(back.predict(signal).data, seg.labels.data)
    assert back.labels.metadata.General.title == "Symmetry segmentation of bicrystal"


def test_lazy_labels_and_stack_round_trip(signal, tmp_path):
    stack = hs.signals.Signal2D(np.stack([signal.data, two_grain(seed=3)[0].astype(np.float32)]))
    stack.axes_manager[0].name = "t"
    seg = symmetry_segmentation(stack.as_lazy(), 2, stride=3, random_state=0, n_operations=5, **SMALL)
    seg.save(tmp_path / "video.zspy")
    back = load_segmentation(tmp_path / "video.zspy", lazy=True)
    assert back.labels._lazy
    np.testing.assert_array_equal(np.asarray(back.labels.data.compute()), np.asarray(seg.labels.data.compute()))
    assert back.reference_frames.tolist() == [0]
    assert back.model.descriptor.n_operations == 5


def test_descriptor_dict_round_trip_all_families():
    from hyperspy_symseg.descriptors import make_descriptor

    for name, kwargs in [
        ("local_correlation_map", {}),
        ("preselected_translations", {"preselected_translations": [[0, 3], [5, -2]]}),
        ("rotational_symmetry_maximum_pooling", {"angles": (72, 144)}),
        ("reflection_symmetry_maximum_pooling", {"num_reflection_plane": 3}),
        ("power_spectrum", {"crop": 0.3, "log": True}),
    ]:
        d = make_descriptor(name, **kwargs)
        back = descriptor_from_dict(descriptor_to_dict(d))
        assert back.operation_names() == d.operation_names() and back.name == d.name
        image = two_grain((70, 80))[0]
        np.testing.assert_array_equal(back.compute(image, 5), d.compute(image, 5))


def test_bad_files(tmp_path, signal):
    with pytest.raises(ValueError, match="must end in .hspy or .zspy"):
        hyperspy_symseg.save_model(symmetry_segmentation(signal, 2, stride=4, **SMALL), tmp_path / "m.npz")
    signal.save(tmp_path / "image.hspy")
    with pytest.raises(ValueError, match="holds no segmentation model"):
        load_model(tmp_path / "image.hspy")
    with pytest.raises(ValueError, match="holds no segmentation"):
        load_segmentation(tmp_path / "image.hspy")
