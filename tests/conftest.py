import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def shared_file(relative: str) -> Path:
    """Path of a file in ../shared/data; skips the test when it is absent."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return path


def lattice(shape, period, angle_deg, shift=(0.0, 0.0)):
    """Square lattice of bright peaks: product of two cosines, rotated by angle."""
    y, x = np.mgrid[: shape[0], : shape[1]].astype(float)
    t = np.deg2rad(angle_deg)
    u = np.cos(t) * (x - shift[1]) + np.sin(t) * (y - shift[0])
    v = -np.sin(t) * (x - shift[1]) + np.cos(t) * (y - shift[0])
    return (1 + np.cos(2 * np.pi * u / period)) * (1 + np.cos(2 * np.pi * v / period))


def two_grain(shape=(96, 128), boundary=None, period=7.0, angles=(0.0, 30.0), noise=0.2, seed=0):
    """A bicrystal: grain 0 left of column ``boundary``, grain 1 right of it.

    Returns (image float64, truth int array).
    """
    rng = np.random.default_rng(seed)
    boundary = shape[1] // 2 if boundary is None else boundary
    left = lattice(shape, period, angles[0])
    right = lattice(shape, period, angles[1], shift=(1.3, 2.1))
    truth = np.zeros(shape, dtype=int)
    truth[:, boundary:] = 1
    image = np.where(truth == 0, left, right) + noise * rng.normal(size=shape)
    return image, truth


SMALL = dict(patch_x=5, patch_y=5, window_x=8, window_y=8, max_num_points=49)

#: The descriptors as the kernels compute them: no lattice background, no extra channels.
PLAIN = dict(background=None, intensity_features=False)


@pytest.fixture
def small_params():
    return dict(SMALL)


@pytest.fixture
def grain_signal():
    """(96, 128) calibrated two-grain AtomicResolutionImage and its truth."""
    import hyperspy.api as hs

    image, truth = two_grain()
    s = hs.signals.Signal2D(image.astype(np.float32))
    for axis, name in zip(s.axes_manager.signal_axes, ("x", "y")):
        axis.name = name
        axis.units = "nm"
        axis.scale = 0.02
        axis.offset = 1.5
    s.metadata.General.title = "bicrystal"
    s.metadata.set_item("Acquisition_instrument.TEM.beam_energy", 300.0)
    s.set_signal_type("atomic_resolution")
    return s, truth
