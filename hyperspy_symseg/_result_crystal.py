"""What the result knows beyond the labels: the lattice, the automatic choices, crystallinity.

A mixin of :class:`hyperspy_symseg.result.SymmetrySegmentation`; the numbers come from the
descriptor (:class:`hyperspy_symseg.descriptors._augmented.AugmentedDescriptor`).
"""

from __future__ import annotations

import numpy as np

from ._crystal_labels import CRYSTAL_FRACTION  # noqa: F401  (re-exported: the documented default)
from ._signal_utils import _check_fits, _frames, _image_geometry, _map_signal
from .descriptors import upsample_labels
from .descriptors._augmented import AugmentedDescriptor


class CrystallinityMixin:
    """Lattice, automatic parameters and the crystal / not-crystal answer of a segmentation."""

    @property
    def automatic(self) -> dict:
        """The automatic stage's record: ``period_px``, ``auto_parameters`` (names), ``lattice``."""
        return dict(self.parameters.get("automatic", {}) or {})

    @property
    def lattice(self):
        """The lattice analysis of the (first) fitted frame (a ``LatticeResult``), or None."""
        return getattr(self, "_lattice", None)

    def describe_parameters(self) -> str:
        """One line: the lattice found and the parameters chosen from it."""
        info = self.automatic
        parts = []
        lattice = self.lattice
        if lattice is not None and lattice.found:
            lengths = ", ".join(f"{v:.3g}" for v in lattice.lengths_px if np.isfinite(v))
            text = f"lattice |a| = {lengths} px"
            if lattice.units != "px":
                text += " (" + ", ".join(f"{v:.4g}" for v in lattice.lengths if np.isfinite(v)) + f" {lattice.units})"
            if np.isfinite(lattice.angle_deg):
                text += f" at {lattice.angle_deg:.1f} deg"
            if len(lattice.lattices) > 1:
                text += f", {len(lattice.lattices)} lattices"
            parts.append(text + f", quality {lattice.quality:.2f}")
        elif lattice is not None:
            parts.append("no lattice found")
        chosen = info.get("auto_parameters", [])
        if chosen:
            parts.append("automatic: " + ", ".join(f"{name} {info.get(name, '?')}" for name in chosen))
        parts.append("intensity features " + ("on" if info.get("intensity_features") else "off"))
        if self.parameters.get("refine_boundaries"):
            parts.append("crystal / vacuum boundaries refined with half the patch")
        if self.parameters.get("band_refit"):
            parts.append("centres refitted on region interiors (a pattern was a band between regions)")
        return "; ".join(parts)

    # ------------------------------------------------------------- crystallinity
    def _crystal_descriptor(self) -> AugmentedDescriptor:
        spec = self.descriptor
        if not isinstance(spec, AugmentedDescriptor) or not spec.has_lattice:
            raise ValueError(
                "crystallinity needs the lattice translations, which this segmentation does not have: no lattice "
                "was found in the image, or the sizes, stride and background were all given explicitly with "
                "background=None."
            )
        return spec

    def crystallinity_map(self, signal=None):
        """How crystalline every pixel's neighbourhood is: ``mean r(t) - mean r(t / 2)``.

        ``r(t)`` is the Pearson correlation of the patch with itself shifted by the lattice
        translations ``t`` found at fitting (their halves for the reference): about 0.5-1
        in a crystal (any grain or phase of the lattices found), about 0 in vacuum and
        amorphous material, below 0 across an intensity step.

        Parameters
        ----------
        signal : hyperspy.signals.Signal2D, optional
            Default: the segmented signal (from the stored descriptors); another image or
            stack is scored with the fitted descriptor.

        Returns
        -------
        hyperspy.signals.Signal2D
            float32 map (nearest grid point per pixel) with the axes and metadata of the signal.
        """
        return self._crystallinity(signal, keep_prepared=False)[0]

    def _crystallinity(self, signal, keep_prepared: bool):
        """The crystallinity map, and the background-free frames it was scored on (or None).

        The frames come back only when they were computed here (``keep_prepared``; not
        when the map is read from stored descriptors), so :meth:`crystal_labels` does not
        remove the background twice.
        """
        spec = self._crystal_descriptor()
        prepared = None
        stored = "crystallinity" in spec.extras[: spec.n_extra]
        if stored:
            channel = spec.base.n_operations + spec.extras.index("crystallinity")
            scale = spec.crystallinity_scale
        if signal is None and self.descriptors is not None and stored:
            signal = self.signal
            grid_values = np.asarray(self.descriptors.data)[..., channel] / scale
            frames = grid_values.reshape((-1,) + grid_values.shape[-2:])
            height, width = signal.data.shape[-2:]
        else:
            signal = self.signal if signal is None else signal
            _, height, width = _image_geometry(signal)
            _check_fits(spec, height, width)
            frames, kept = [], []
            for frame in _frames(signal):
                image = np.asarray(frame.compute() if hasattr(frame, "compute") else frame, dtype=np.float64)
                grid = spec.grid(image.shape, self.stride)
                clean = spec.prepared(image)
                frames.append(spec.raw_channels(image, clean, grid)[..., 0])
                if keep_prepared:
                    kept.append(clean)
            frames = np.stack(frames)
            prepared = np.stack(kept) if keep_prepared else None
        grid = spec.grid((height, width), self.stride)
        data = np.stack([upsample_labels(f.astype(np.float32), grid, (height, width)) for f in frames])
        out = _map_signal(signal, data.reshape(signal.data.shape).astype(np.float32), "Crystallinity", "Crystallinity")
        out.metadata.set_item("Crystallinity.crystal_level", float(spec.stats.get("crystallinity", np.nan)))
        return out, prepared

    @property
    def crystallinity(self):
        """The crystallinity map of the segmented signal (see :meth:`crystallinity_map`)."""
        return self.crystallinity_map()

    def crystal_labels(self, threshold: float | None = None, signal=None, contamination: bool = True):
        """Crystal / not-crystal labels: 1 where the neighbourhood is crystalline, 0 elsewhere.

        Vacuum, amorphous support, contamination and strongly disordered areas are 0; every
        grain and phase of the lattices found is 1, whatever the pattern labels split them into.
        The rule (:mod:`hyperspy_symseg._crystal_labels`): the smoothed crystallinity
        above ``threshold``; then, among those pixels, a mode of clearly higher local
        contrast *and* clearly lower crystallinity (a crystal seen through an amorphous
        layer) is not crystalline.

        Parameters
        ----------
        threshold : float, optional
            Crystallinity (smoothed over 1.5 patch sizes) above which a pixel is
            crystalline. Default: ``CRYSTAL_FRACTION`` (0.3) of the crystal's typical
            crystallinity (its 90th percentile on the fitted frames); measured on the 24
            labelled graphene images of ``benchmarks/bench_real.py`` (0.3: 0.885 mean
            accuracy, 0.5: 0.834, Otsu: 0.73, before the contamination step).
        signal : hyperspy.signals.Signal2D, optional
            Default: the segmented signal.
        contamination : bool, default True
            Call crystal seen through an amorphous overlayer not crystalline (on the
            graphene set: 0.978 mean accuracy with it, 0.921 without). False keeps every
            pixel whose lattice shows.

        Returns
        -------
        hyperspy.signals.Signal2D
            uint8 labels (0 not crystalline, 1 crystalline) with the signal's axes;
            ``metadata.Crystallinity`` holds the threshold, the crystal fraction and what
            the contamination step measured.

        Examples
        --------
        >>> from hyperspy_symseg import simulate
        >>> sim = simulate.particle_on_vacuum(shape=(128, 128), random_state=0)
        >>> seg = sim.image.symmetry_segmentation(2, random_state=0, show_progressbar=False)
        >>> crystal = seg.crystal_labels()
        >>> crystal.data.dtype.name
        'uint8'

        See Also
        --------
        crystallinity_map : the map the labels threshold.
        """
        from ._crystal_labels import CRYSTAL_FRACTION, crystal_mask

        spec = self._crystal_descriptor()
        if threshold is None:
            threshold = CRYSTAL_FRACTION * float(spec.stats.get("crystallinity", 1.0))
        if not np.isfinite(threshold):
            raise ValueError(f"threshold must be a finite crystallinity, got {threshold}.")
        cmap, images = self._crystallinity(signal, keep_prepared=bool(contamination))
        crystallinity = np.asarray(cmap.data, dtype=np.float64)
        frames = crystallinity.reshape((-1,) + crystallinity.shape[-2:])
        target = self.signal if signal is None else signal
        if contamination and images is None:  # the map came from the stored descriptors
            images = np.stack([spec.prepared(np.asarray(f.compute() if hasattr(f, "compute") else f, dtype=np.float64))
                               for f in _frames(target)])
        mask, info = crystal_mask(frames, threshold, float(spec.patch), images, contamination=bool(contamination))
        labels = mask.reshape(crystallinity.shape).astype(np.uint8)
        out = _map_signal(target, labels, "Crystal labels", "Crystalline (1) or not (0)")
        out.metadata.set_item("Crystallinity.threshold", float(threshold))
        out.metadata.set_item("Crystallinity.crystal_fraction", float(labels.mean()))
        for key, value in info.items():
            out.metadata.set_item(f"Crystallinity.{key}", value)
        return out

    # ----------------------------------------------------------- number of patterns
    def plot_n_patterns(self, ax=None):
        """The scores behind ``n_patterns="auto"``: gap statistic and region compactness per k.

        Returns the matplotlib Axes: the gap statistic (with its reference error) against
        k, the chosen k marked, and on a second axis the largest perimeter ratio of the
        patterns (compact regions are below the dashed limit, per k: see
        :func:`hyperspy_symseg.auto.perimeter_limit`, ``n_patterns_selection["perimeter_limit"]``).
        """
        import matplotlib.pyplot as plt

        sel = self.n_patterns_selection
        if sel is None:
            raise ValueError('plot_n_patterns needs a segmentation made with n_patterns="auto".')
        if ax is None:
            _, ax = plt.subplots(figsize=(5, 3.5))
        k = np.asarray(sel["tried"])
        ax.errorbar(k, sel["gap"], yerr=sel["gap_error"], marker="o", color="tab:blue", label="gap statistic")
        ax.axvline(self.n_patterns, color="tab:green", ls=":", label=f"chosen: {self.n_patterns}")
        ax.set_xlabel("number of patterns k")
        ax.set_ylabel("gap statistic")
        twin = ax.twinx()
        twin.plot(k, sel["perimeter_ratio"], "s--", color="tab:orange", label="perimeter ratio")
        twin.step(k, sel["perimeter_limit"], where="mid", color="tab:orange", lw=0.8, ls="--")
        twin.set_ylabel("largest perimeter ratio", color="tab:orange")
        ax.set_title(f"n_patterns='auto' (stability {sel['stability']:.2f})", fontsize="medium")
        ax.legend(loc="lower right", fontsize="small")
        return ax
