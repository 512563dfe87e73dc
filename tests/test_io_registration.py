"""Registration of ``AtomicResolutionImage`` with HyperSpy and loading through
RosettaSciIO (DM3/DM4, TIFF, EMD, HSPY) with ``signal_type="atomic_resolution"``."""

import importlib
import importlib.metadata
import importlib.util
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import SHARED_DATA
import yaml

import hyperspy.api as hs
import hyperspy_symseg
from hyperspy_symseg.signals import AtomicResolutionImage, LazyAtomicResolutionImage

sys.path.insert(0, str(Path(__file__).parent))
from _dm_writer import write_dm  # noqa: E402

SIGNAL_TYPE = "atomic_resolution"
REAL = SHARED_DATA / "real"
REAL_DM3 = REAL / "temul_toolkit_example_Se_implanted_MoS2.dm3"
REAL_EMD = REAL / "temul_toolkit_example_Au_nanoparticle.emd"
REAL_TIF = REAL / "rhambach_graphene_defect_raw.tif"

# Non-square, anisotropic, different units per axis: catches swapped axes.
SHAPE = (48, 64)  # (y, x)
DM_SCALE = (0.02, 0.0125)  # (y, x); exactly representable as float32
DM_ORIGIN = (8.0, -4.0)  # pixels, DM convention
DM_UNITS = ("nm", "Å")
TITLE = "Se-implanted MoS2 test image"


def _need(path):
    if not path.exists():
        pytest.skip(f"real data file {path} not available")
    return path


def _image(dtype):
    y, x = np.mgrid[: SHAPE[0], : SHAPE[1]]
    img = 100 * (np.sin(x / 3.0) * np.cos(y / 4.0) + 1.5) + x - y
    return img.astype(dtype)


def _calibrated_signal(shape=SHAPE, dtype="float32"):
    data = np.random.default_rng(0).random(shape).astype(dtype)
    s = hs.signals.Signal2D(data)
    x, y = s.axes_manager.signal_axes
    x.scale, x.offset, x.units, x.name = 0.0125, -0.5, "nm", "x"
    y.scale, y.offset, y.units, y.name = 0.02, 0.25, "nm", "y"
    s.metadata.General.title = TITLE
    return s


def _assert_calibration(s, scale_yx, offset_yx, units_yx, rtol=1e-6):
    x, y = s.axes_manager.signal_axes
    np.testing.assert_allclose([y.scale, x.scale], scale_yx, rtol=rtol)
    np.testing.assert_allclose([y.offset, x.offset], offset_yx, rtol=rtol, atol=1e-9)
    assert (y.units, x.units) == tuple(units_yx)


# --------------------------------------------------------------------------
# Extension registration
# --------------------------------------------------------------------------


def test_entry_point_names_importable_package():
    eps = [ep for ep in importlib.metadata.entry_points(group="hyperspy.extensions")
           if ep.value == "hyperspy_symseg"]
    assert len(eps) == 1
    ep = eps[0]
    # HyperSpy imports ``ep.name`` (not ``ep.value``) to locate the YAML file
    assert ep.name == "hyperspy_symseg"
    assert importlib.import_module(ep.name) is hyperspy_symseg


def test_extension_yaml_next_to_package_init():
    origin = Path(importlib.util.find_spec("hyperspy_symseg").origin)
    assert origin.name == "__init__.py"
    yml = origin.parent / "hyperspy_extension.yaml"
    assert yml.is_file()
    signals = yaml.safe_load(yml.read_text())["signals"]
    assert set(signals) >= {"AtomicResolutionImage", "LazyAtomicResolutionImage"}
    for name, spec in signals.items():
        cls = getattr(importlib.import_module(spec["module"]), name)
        assert spec["signal_type"] == cls._signal_type == (SIGNAL_TYPE if "AtomicResolution" in name else "pattern_labels")
        assert spec["signal_dimension"] == 2
        assert spec["lazy"] is bool(getattr(cls, "_lazy", False))
    from hyperspy.extensions import ALL_EXTENSIONS

    assert ALL_EXTENSIONS["signals"]["AtomicResolutionImage"]["module"] == "hyperspy_symseg.signals"
    assert ALL_EXTENSIONS["signals"]["LazyAtomicResolutionImage"]["lazy"] is True


def test_version_is_string():
    assert isinstance(hyperspy_symseg.__version__, str)
    assert hyperspy_symseg.__version__.strip()
    assert hyperspy_symseg.__version__[0].isdigit()


def test_classes_are_signal2d():
    assert issubclass(AtomicResolutionImage, hs.signals.Signal2D)
    assert issubclass(LazyAtomicResolutionImage, hs.signals.LazySignal2D)
    assert issubclass(LazyAtomicResolutionImage, AtomicResolutionImage)


# --------------------------------------------------------------------------
# DM3 / DM4 written by tests/_dm_writer.py
# --------------------------------------------------------------------------


@pytest.mark.parametrize("version", [3, 4])
@pytest.mark.parametrize("dtype", ["float32", "uint16", "int32"])
def test_load_dm_written(tmp_path, version, dtype):
    data = _image(dtype)
    path = write_dm(tmp_path / f"img.dm{version}", data, version=version,
                    scale=DM_SCALE, origin=DM_ORIGIN, units=DM_UNITS, title=TITLE)
    with open(path, "rb") as f:
        assert int.from_bytes(f.read(4), "big") == version
    s = hs.load(path, signal_type=SIGNAL_TYPE)
    assert type(s) is AtomicResolutionImage
    assert s.metadata.Signal.signal_type == SIGNAL_TYPE
    assert s.data.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(s.data, data)
    offsets = tuple(-o * sc for o, sc in zip(DM_ORIGIN, DM_SCALE))  # (-0.16, 0.05)
    _assert_calibration(s, DM_SCALE, offsets, DM_UNITS)
    assert s.metadata.General.title == TITLE
    assert s.axes_manager.navigation_dimension == 0


@pytest.mark.parametrize("version", [3, 4])
def test_load_dm_written_lazy(tmp_path, version):
    data = _image("float32")
    path = write_dm(tmp_path / f"img.dm{version}", data, version=version,
                    scale=DM_SCALE, origin=DM_ORIGIN, units=DM_UNITS, title=TITLE)
    s = hs.load(path, signal_type=SIGNAL_TYPE, lazy=True)
    assert type(s) is LazyAtomicResolutionImage
    np.testing.assert_array_equal(s.data.compute(), data)
    _assert_calibration(s, DM_SCALE, (-0.16, 0.05), DM_UNITS)


def test_load_dm_without_signal_type_is_plain_signal2d(tmp_path):
    path = write_dm(tmp_path / "img.dm4", _image("uint16"), scale=DM_SCALE,
                    origin=DM_ORIGIN, units=DM_UNITS, title=TITLE)
    s = hs.load(path)
    assert type(s) is hs.signals.Signal2D
    assert not isinstance(s, AtomicResolutionImage)


# --------------------------------------------------------------------------
# TIFF, EMD written by HyperSpy
# --------------------------------------------------------------------------


def test_load_tiff_written_by_hyperspy(tmp_path):
    pytest.importorskip("tifffile", reason="RosettaSciIO's TIFF plugin needs tifffile")
    s0 = _calibrated_signal()
    # isotropic calibration: the TIFF (ImageJ/DM tags) round trip of rsciio is
    # only tested here for the extension's sake, not for per-axis bookkeeping
    for ax in s0.axes_manager.signal_axes:
        ax.scale, ax.offset, ax.units = 0.05, 0.0, "nm"
    path = tmp_path / "x.tif"
    s0.save(path)
    for lazy, cls in ((False, AtomicResolutionImage), (True, LazyAtomicResolutionImage)):
        s = hs.load(path, signal_type=SIGNAL_TYPE, lazy=lazy)
        assert type(s) is cls
        np.testing.assert_array_equal(np.asarray(s.data), s0.data)
        _assert_calibration(s, (0.05, 0.05), (0.0, 0.0), ("nm", "nm"))


def test_load_emd_ncem_written_by_hyperspy(tmp_path):
    s0 = _calibrated_signal()
    path = tmp_path / "x.emd"
    s0.save(path)
    assert h5py.is_hdf5(path)
    for lazy, cls in ((False, AtomicResolutionImage), (True, LazyAtomicResolutionImage)):
        s = hs.load(path, signal_type=SIGNAL_TYPE, lazy=lazy)
        assert type(s) is cls
        np.testing.assert_array_equal(np.asarray(s.data), s0.data)
        _assert_calibration(s, (0.02, 0.0125), (0.25, -0.5), ("nm", "nm"))
        assert s.metadata.General.title == TITLE


# --------------------------------------------------------------------------
# Real files (by path, never copied)
# --------------------------------------------------------------------------


def test_load_real_dm3():
    path = _need(REAL_DM3)
    s = hs.load(path, signal_type=SIGNAL_TYPE)
    assert type(s) is AtomicResolutionImage
    assert s.data.shape == (1024, 1024)
    assert s.data.dtype == np.uint32
    assert s.metadata.General.title == "SI Survey Image (active)"
    _assert_calibration(s, (0.0126953125, 0.0126953125), (0.0, 0.0), ("nm", "nm"))
    lz = hs.load(path, signal_type=SIGNAL_TYPE, lazy=True)
    assert type(lz) is LazyAtomicResolutionImage
    np.testing.assert_array_equal(lz.data[100:140, 500:560].compute(), s.data[100:140, 500:560])


def test_load_real_velox_emd():
    path = _need(REAL_EMD)
    lz = hs.load(path, signal_type=SIGNAL_TYPE, lazy=True)
    assert type(lz) is LazyAtomicResolutionImage
    assert lz.data.shape == (2048, 2048)
    assert lz.metadata.General.title == "HAADF"
    _assert_calibration(lz, (0.0074984, 0.0074984), (-7.6784, -7.6784), ("nm", "nm"), rtol=1e-4)
    s = hs.load(path, signal_type=SIGNAL_TYPE)
    assert type(s) is AtomicResolutionImage
    assert s.data.dtype == np.uint16
    assert s.data.std() > 0
    np.testing.assert_array_equal(lz.data[1000:1032, 0:64].compute(), s.data[1000:1032, 0:64])


def test_load_real_tiff():
    path = _need(REAL_TIF)
    pytest.importorskip("tifffile", reason="RosettaSciIO's TIFF plugin needs tifffile")
    s = hs.load(path, signal_type=SIGNAL_TYPE)
    assert type(s) is AtomicResolutionImage
    assert s.data.shape == (512, 512)
    assert s.data.dtype == np.float32
    assert 0.9 < float(s.data.min()) < float(s.data.max()) < 1.1
    lz = hs.load(path, signal_type=SIGNAL_TYPE, lazy=True)
    assert type(lz) is LazyAtomicResolutionImage
    np.testing.assert_array_equal(np.asarray(lz.data), s.data)


# --------------------------------------------------------------------------
# set_signal_type, HSPY round trip, stacks
# --------------------------------------------------------------------------


def test_set_signal_type_real_2d():
    s = _calibrated_signal()
    data = s.data
    s.set_signal_type(SIGNAL_TYPE)
    assert type(s) is AtomicResolutionImage
    assert s.metadata.Signal.signal_type == SIGNAL_TYPE
    assert s.data is data
    _assert_calibration(s, (0.02, 0.0125), (0.25, -0.5), ("nm", "nm"))
    # the alias declared in the YAML works too
    s2 = _calibrated_signal()
    s2.set_signal_type("atomic_resolution_image")
    assert type(s2) is AtomicResolutionImage
    # and back to a plain image
    s.set_signal_type("")
    assert type(s) is hs.signals.Signal2D


def test_set_signal_type_lazy():
    s = _calibrated_signal().as_lazy()
    s.set_signal_type(SIGNAL_TYPE)
    assert type(s) is LazyAtomicResolutionImage
    assert type(s.as_lazy()) is LazyAtomicResolutionImage
    c = s.deepcopy()
    c.compute()
    assert type(c) is AtomicResolutionImage
    np.testing.assert_array_equal(c.data, _calibrated_signal().data)


def test_hspy_round_trip(tmp_path):
    s = _calibrated_signal()
    s.set_signal_type(SIGNAL_TYPE)
    path = tmp_path / "a.hspy"
    s.save(path)
    with h5py.File(path, "r") as f:
        md = f["Experiments"][TITLE]["metadata"]
        assert md["Signal"].attrs["signal_type"] == SIGNAL_TYPE
        # HyperSpy records its own version, not the extension's
        assert md["General"]["FileIO"]["0"].attrs["hyperspy_version"] == hs.__version__
    for lazy, cls in ((False, AtomicResolutionImage), (True, LazyAtomicResolutionImage)):
        r = hs.load(path, lazy=lazy)
        assert type(r) is cls
        np.testing.assert_array_equal(np.asarray(r.data), s.data)
        _assert_calibration(r, (0.02, 0.0125), (0.25, -0.5), ("nm", "nm"))
        assert r.metadata.General.title == TITLE
        assert [a.name for a in r.axes_manager.signal_axes] == ["x", "y"]


def test_stack_has_one_navigation_axis():
    s = hs.signals.Signal2D(np.random.default_rng(1).random((3, 64, 64)))
    s.set_signal_type(SIGNAL_TYPE)
    assert type(s) is AtomicResolutionImage
    assert s.axes_manager.navigation_dimension == 1
    assert s.axes_manager.navigation_shape == (3,)
    assert s.axes_manager.signal_shape == (64, 64)
    assert type(s.inav[1]) is AtomicResolutionImage
    assert s.inav[1].axes_manager.navigation_dimension == 0
