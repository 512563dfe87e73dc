"""Results of :func:`hyperspy_symseg.atom_columns.find_atom_columns`: one image or a stack.

:class:`AtomColumns` holds the columns of one image (table, markers, CSV, per-pattern
lattice vectors); :class:`AtomColumnsStack` holds one :class:`AtomColumns` per frame of
a stack (navigation axes) with a concatenated table (a ``frame`` column), CSV export
and markers that follow the navigation (one ``Points`` object with ragged offsets).
No numerics here beyond bookkeeping; HyperSpy is imported only to build markers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .columns import _table
from .columns._table import PatternLattice

__all__ = ["AtomColumns", "AtomColumnsStack"]


def _colours(labels: np.ndarray) -> Any:
    """tab10 colour per segmentation label (grey for -1), or "red" without labels."""
    if not (labels >= 0).any():
        return "red"
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return [cmap(int(k) % 10) if k >= 0 else (0.5, 0.5, 0.5, 1.0) for k in labels]


class AtomColumns:
    """Atom columns found in one image (the result of :func:`find_atom_columns`).

    Attributes
    ----------
    table : numpy structured array, shape (N,)
        One row per column; fields in :data:`hyperspy_symseg.columns._table.TABLE_FIELDS`
        (``y_px``, ``x_px``, calibrated ``y``, ``x``, their errors, ``amplitude``,
        ``background``, ``sigma_major_px``, ``sigma_minor_px``, ``angle_deg``,
        ``integrated_intensity``, ``snr``, ``chi2``, ``label``, ...).
    lattice : object
        The lattice analysis used (``vectors`` (2, 2) px, ``min_separation_px``,
        ``quality``), or None when ``min_separation`` was given.
    patterns : dict of int -> PatternLattice
        With a segmentation: the columns and lattice vectors (mean and spread, px) of
        each pattern label.
    axes : dict
        ``scale``, ``offset``, ``units``, ``names`` of the (y, x) image axes.
    parameters : dict
        The parameters of the search (``min_separation``, ``sigma``, ``window``, ``noise``, ...).
    """

    def __init__(self, table: np.ndarray, axes: dict, lattice: Any, parameters: dict,
                 patterns: dict[int, PatternLattice] | None = None) -> None:
        self.table = table
        self.axes = axes
        self.lattice = lattice
        self.parameters = parameters
        self.patterns = patterns or {}

    def __len__(self) -> int:
        return len(self.table)

    def __repr__(self) -> str:
        extra = f", {len(self.patterns)} patterns" if self.patterns else ""
        return (f"<AtomColumns: {len(self)} columns, min_separation={self.parameters.get('min_separation', 0):.3g} px, "
                f"sigma={self.parameters.get('sigma', 0):.3g} px{extra}>")

    @property
    def positions_px(self) -> np.ndarray:
        """(N, 2) float64 ``(y, x)`` in pixels."""
        return np.column_stack([self.table["y_px"], self.table["x_px"]])

    @property
    def positions(self) -> np.ndarray:
        """(N, 2) float64 ``(y, x)`` in the axes' units."""
        return np.column_stack([self.table["y"], self.table["x"]])

    @property
    def labels(self) -> np.ndarray:
        """(N,) int32 segmentation label of each column (-1 without segmentation)."""
        return self.table["label"]

    def to_csv(self, path) -> None:
        """Write the table to ``path`` as CSV: a header row of the field names, one row per column.

        ``y`` and ``x`` are in the axes' units (``self.axes["units"]``), ``*_px`` in pixels.
        """
        _table.write_csv(self.table, path)

    def to_markers(self, color: Any = None, sizes: float = 6, **kwargs: Any):
        """The columns as one calibrated :class:`hyperspy.api.plot.markers.Points`.

        Parameters
        ----------
        color : matplotlib colour, sequence of colours or None
            None colours by segmentation label (tab10) when there is one, else red.
        sizes : float
            Marker size in points.
        **kwargs
            Passed to ``Points`` (e.g. ``facecolors="none"``, ``alpha``).

        Examples
        --------
        >>> from hyperspy_symseg import simulate
        >>> from hyperspy_symseg.atom_columns import find_atom_columns
        >>> sim = simulate.two_grain_image(shape=(192, 192), random_state=0)
        >>> cols = find_atom_columns(sim.image)
        >>> sim.image.plot()  # doctest: +SKIP
        >>> sim.image.add_marker(cols.to_markers())  # doctest: +SKIP
        """
        import hyperspy.api as hs

        offsets = np.column_stack([self.table["x"], self.table["y"]])
        if color is None:
            color = _colours(self.table["label"])
        return hs.plot.markers.Points(offsets=offsets, sizes=sizes, color=color, **kwargs)

    def plot(self, signal: Any, **kwargs: Any) -> None:
        """Plot ``signal`` with the columns on top (keyword arguments go to :meth:`to_markers`)."""
        signal.plot()
        signal.add_marker(self.to_markers(**kwargs), permanent=False)

    def pattern_table(self) -> np.ndarray:
        """Per-pattern lattice vectors as a structured array (px and calibrated units).

        Fields: ``label``, ``n_columns``, ``a1_y``, ``a1_x``, ``a2_y``, ``a2_x`` (mean,
        calibrated), ``a1_y_std`` ... (spread, calibrated), ``a1_length``, ``a2_length``
        (calibrated) and ``angle_deg`` (between a1 and a2).
        """
        names = ["label", "n_columns", "a1_y", "a1_x", "a2_y", "a2_x", "a1_y_std", "a1_x_std", "a2_y_std",
                 "a2_x_std", "a1_length", "a2_length", "angle_deg"]
        dt = np.dtype([(n, "i4" if n in ("label", "n_columns") else "f8") for n in names])
        out = np.zeros(len(self.patterns), dtype=dt)
        sy, sx = self.axes["scale"]
        for r, (lab, p) in enumerate(sorted(self.patterns.items())):
            v = p.vectors * np.array([sy, sx])
            s = p.spread * np.array([abs(sy), abs(sx)])
            out[r]["label"], out[r]["n_columns"] = lab, p.n_columns
            out[r]["a1_y"], out[r]["a1_x"], out[r]["a2_y"], out[r]["a2_x"] = v.ravel()
            out[r]["a1_y_std"], out[r]["a1_x_std"], out[r]["a2_y_std"], out[r]["a2_x_std"] = s.ravel()
            out[r]["a1_length"], out[r]["a2_length"] = np.hypot(v[:, 0], v[:, 1])
            cosang = np.dot(v[0], v[1]) / (np.hypot(*v[0]) * np.hypot(*v[1]))
            out[r]["angle_deg"] = np.degrees(np.arccos(np.clip(cosang, -1, 1)))
        return out


class AtomColumnsStack:
    """Atom columns of every frame of a stack (the result of :func:`find_atom_columns` on a
    signal with navigation axes).

    A sequence of :class:`AtomColumns`, one per frame in C order over the navigation
    shape (as ``signal.data`` holds them): ``stack[i]`` is frame ``i`` (flat index) and
    ``stack[iy, ix]`` takes a data-order navigation index (HyperSpy's ``inav`` takes the
    reverse order, x first).

    Attributes
    ----------
    frames : list of AtomColumns
        One per frame; their ``parameters["sigma"]`` is each frame's own column width.
    navigation_shape : tuple of int
        Navigation shape in array order (``signal.data.shape[:-2]``).
    navigation_axes : list of dict
        ``name``, ``scale``, ``offset``, ``units`` of each navigation axis, array order.
    lattice : object or None
        The lattice analysis of the first frame that set ``min_separation`` (None when
        it was given).
    parameters : dict
        The parameters shared by every frame (``min_separation``, ``noise``, ...).
    """

    def __init__(self, frames: list[AtomColumns], navigation_shape: tuple[int, ...],
                 navigation_axes: list[dict], lattice: Any, parameters: dict) -> None:
        n = int(np.prod(navigation_shape)) if navigation_shape else 1
        if len(frames) != n:
            raise ValueError(f"{len(frames)} frames for a navigation shape {navigation_shape}")
        self.frames = list(frames)
        self.navigation_shape = tuple(int(k) for k in navigation_shape)
        self.navigation_axes = navigation_axes
        self.lattice = lattice
        self.parameters = parameters

    def __len__(self) -> int:
        return len(self.frames)

    def __iter__(self):
        return iter(self.frames)

    def __getitem__(self, index) -> AtomColumns:
        if isinstance(index, tuple):
            return self.frames[int(np.ravel_multi_index(index, self.navigation_shape))]
        return self.frames[index]

    def __repr__(self) -> str:
        counts = self.n_columns.ravel()
        rng = f"{counts.min()}-{counts.max()}" if len(counts) else "0"
        return (f"<AtomColumnsStack: {len(self)} frames {self.navigation_shape}, {rng} columns per frame, "
                f"min_separation={self.parameters.get('min_separation', 0):.3g} px>")

    @property
    def n_columns(self) -> np.ndarray:
        """Columns per frame, int array of the navigation shape (array order)."""
        return np.array([len(f) for f in self.frames], dtype=np.int64).reshape(self.navigation_shape)

    @property
    def table(self) -> np.ndarray:
        """All frames' tables concatenated, with the frame first.

        Fields: ``frame`` (flat index, C order over :attr:`navigation_shape`), then for a
        navigation of 2 or more dimensions ``index_0``, ``index_1``, ... (array order),
        then the fields of :attr:`AtomColumns.table`.
        """
        d = len(self.navigation_shape)
        extra = [("frame", "i4")] + ([(f"index_{k}", "i4") for k in range(d)] if d > 1 else [])
        dt = np.dtype(extra + _table.table_dtype().descr)
        parts = []
        for i, f in enumerate(self.frames):
            t = np.zeros(len(f), dtype=dt)
            t["frame"] = i
            if d > 1:
                for k, v in enumerate(np.unravel_index(i, self.navigation_shape)):
                    t[f"index_{k}"] = v
            for name in f.table.dtype.names:
                t[name] = f.table[name]
            parts.append(t)
        return np.concatenate(parts) if parts else np.zeros(0, dtype=dt)

    def to_csv(self, path) -> None:
        """Write :attr:`table` (every frame, a ``frame`` column first) to ``path`` as CSV."""
        _table.write_csv(self.table, path)

    def to_markers(self, color: Any = None, sizes: float = 6, **kwargs: Any):
        """The columns of every frame as one :class:`hyperspy.api.plot.markers.Points`.

        Offsets (and colours) are ragged arrays over the navigation, so the markers
        follow the navigation position when the stack is plotted. Arguments as in
        :meth:`AtomColumns.to_markers`.

        Examples
        --------
        >>> from hyperspy_symseg import simulate
        >>> from hyperspy_symseg.atom_columns import find_atom_columns
        >>> sim = simulate.two_grain_image(shape=(128, 128), random_state=0)
        >>> import numpy as np, hyperspy.api as hs
        >>> stack = hs.stack([sim.image, sim.image])
        >>> cols = find_atom_columns(stack)
        >>> stack.plot()  # doctest: +SKIP
        >>> stack.add_marker(cols.to_markers())  # doctest: +SKIP
        """
        import hyperspy.api as hs

        # HyperSpy indexes ragged marker arguments by axes_manager.indices (x first)
        shape = self.navigation_shape[::-1]
        offsets = np.empty(shape, dtype=object)
        labelled = any((f.table["label"] >= 0).any() for f in self.frames)
        colours = np.empty(shape, dtype=object) if color is None and labelled else None
        for i, f in enumerate(self.frames):
            idx = np.unravel_index(i, self.navigation_shape)[::-1]
            offsets[idx] = np.column_stack([f.table["x"], f.table["y"]])
            if colours is not None:
                c = _colours(f.table["label"])
                if isinstance(c, str):  # a frame without labels: grey, like unlabelled columns
                    c = [(0.5, 0.5, 0.5, 1.0)] * len(f)
                colours[idx] = np.asarray(c, dtype=np.float64).reshape(len(f), 4)
        if colours is None and color is None:
            color = "red"
        return hs.plot.markers.Points(offsets=offsets, sizes=sizes,
                                      color=colours if colours is not None else color, **kwargs)

    def plot(self, signal: Any, **kwargs: Any) -> None:
        """Plot the stack ``signal`` with each frame's columns on top (kwargs to :meth:`to_markers`)."""
        signal.plot()
        signal.add_marker(self.to_markers(**kwargs), permanent=False)
