"""The simulation result and its HyperSpy signals."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._probes import HRTEMTransfer, PhysicalProbe, _Probe


# --------------------------------------------------------------------------- #
# results
# --------------------------------------------------------------------------- #
@dataclass
class SimulationResult:
    """A simulated image or series with its ground truth.

    Attributes
    ----------
    image : AtomicResolutionImage
        float32 image, signal axes "x", "y" (nm); for a series a navigation axis "t".
        Parameters in ``metadata.Simulation``.
    labels : hyperspy.signals.Signal2D
        int32 ground truth, same shape and axes: the index (0..K-1) of the region of
        the scene covering each pixel, after the same scan distortion as the image.
    positions : (N, 2) float64 ndarray, or list of them per frame
        Apparent column positions ``(y, x)`` in nm in the image frame (registered with
        the distorted image), only columns inside the field of view.
    column_regions : (N,) int64 ndarray, or list
        Region index of each column.
    column_intensities : (N,) float64 ndarray, or list
        Column intensities.
    column_sites : (N,) int64 ndarray, or list
        Basis-site index of each column (-1 for amorphous columns).
    true_positions : (N, 2) float64 ndarray, or list
        Column positions without scan distortion (lab frame, nm).
    noise_free : ndarray
        The Poisson mean (expected counts; image units when no dose is given), same
        shape as ``image.data``, float64.
    scan_displacement : (ny, 2) or (n_frames, ny, 2) float64 ndarray
        Displacement ``(dy, dx)`` in nm of the specimen point sampled by each row.
    scene : Scene or list of Scene
        The resolved scene(s) (origins and seeds fixed).
    region_names : list of str
        Name of each label.
    """

    image: Any
    labels: Any
    positions: Any
    column_regions: Any
    column_intensities: Any
    column_sites: Any
    true_positions: Any
    noise_free: np.ndarray
    scan_displacement: np.ndarray
    scene: Any
    region_names: list[str] = field(default_factory=list)

    @property
    def is_series(self) -> bool:
        return isinstance(self.positions, list)

    def markers(self, color: str | None = None, sizes: float = 6, **kwargs: Any) -> Any:
        """Column positions as HyperSpy point markers (one set per frame for a series).

        Add them with ``sim.image.add_marker(sim.markers())`` or
        ``sim.image.plot(); sim.image.add_marker(...)``. Keyword arguments go to
        :class:`hyperspy.api.plot.markers.Points`. ``color`` None colours by region.
        """
        import hyperspy.api as hs
        from matplotlib import colormaps

        cmap = colormaps["tab10"]

        def xy(p: np.ndarray) -> np.ndarray:
            return np.column_stack([p[:, 1], p[:, 0]]) if len(p) else np.empty((0, 2))

        def colours(r: np.ndarray) -> Any:
            return color if color is not None else [cmap(int(k) % 10) for k in r]

        if not self.is_series:
            return hs.plot.markers.Points(
                offsets=xy(self.positions), sizes=sizes, color=colours(self.column_regions), **kwargs
            )
        offsets = np.empty(len(self.positions), dtype=object)
        for k, p in enumerate(self.positions):
            offsets[k] = xy(p)
        if color is None:
            color = "red"
        return hs.plot.markers.Points(offsets=offsets, sizes=sizes, color=color, **kwargs)


_LABEL_CONVENTION = (
    "label k (0..K-1) = index of the scene region covering the pixel, in the order the scene lists its "
    "regions; later regions are painted over earlier ones"
)


def _make_signals(
    counts: np.ndarray, labels: np.ndarray, pixel_size: float, title: str, sim_meta: dict,
    probe: _Probe, frame_time: float | None, quantity: str,
) -> tuple[Any, Any]:
    from hyperspy.signals import Signal2D

    from ..signals import AtomicResolutionImage

    image = AtomicResolutionImage(counts.astype(np.float32))
    lab = Signal2D(labels.astype(np.int32))
    for s in (image, lab):
        sx, sy = s.axes_manager.signal_axes
        for ax, name in ((sx, "x"), (sy, "y")):
            ax.name = name
            ax.units = "nm"
            ax.scale = pixel_size
            ax.offset = 0.0
        if frame_time is not None:
            (t,) = s.axes_manager.navigation_axes
            t.name = "t"
            t.units = "s"
            t.scale = frame_time
            t.offset = 0.0
    image.metadata.General.title = title
    image.metadata.Signal.quantity = quantity
    image.metadata.add_dictionary({"Simulation": sim_meta})
    if isinstance(probe, PhysicalProbe):
        image.metadata.set_item("Acquisition_instrument.TEM.beam_energy", probe.energy)
        image.metadata.set_item("Acquisition_instrument.TEM.convergence_angle", probe.convergence)
    elif isinstance(probe, HRTEMTransfer):
        image.metadata.set_item("Acquisition_instrument.TEM.beam_energy", probe.energy)
    lab.metadata.General.title = f"Ground-truth labels: {title}"
    lab.metadata.Signal.quantity = "Region index"
    lab.metadata.add_dictionary(
        {"Simulation": {"region_names": sim_meta["region_names"], "label_convention": _LABEL_CONVENTION}}
    )
    return image, lab
