"""Region contents: crystal lattices, amorphous material, vacuum."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from ._utils import _direction, _pair, _plain, _positive, _real, _rotate


# --------------------------------------------------------------------------- #
# lattices and region contents
# --------------------------------------------------------------------------- #
class Lattice:
    """A 2D lattice of atomic columns: two cell vectors and a basis of sites.

    Parameters
    ----------
    a1, a2 : pair of float
        Cell vectors ``(y, x)`` in nm before rotation. Must be linearly independent.
    basis : (n_sites, 2) array_like of float
        Fractional coordinates ``(f1, f2)`` of the sites in the cell: a site sits at
        ``origin + (n1 + f1) a1 + (n2 + f2) a2``.
    intensities : sequence of float, optional
        Relative column intensity (isolated-column peak height) of each site, > 0;
        a single value is used for every site. Default 1.0.
    rotation : float, optional
        Rotation of the lattice in degrees, counter-clockwise as displayed.
    name : str, optional
        Name used in titles and metadata.
    parameters : dict, optional
        Constructor parameters stored in metadata.

    Notes
    -----
    The named constructors (:meth:`square`, :meth:`rectangular`,
    :meth:`centred_rectangular`, :meth:`hexagonal`, :meth:`honeycomb`,
    :meth:`perovskite_001`, :meth:`dumbbell_110`) cover the common projections.
    Unrotated, ``a1`` points along +x and ``a2`` at 90 degrees (rectangular) or
    60 degrees (hexagonal) counter-clockwise from it, as displayed.
    """

    def __init__(
        self,
        a1: Sequence[float],
        a2: Sequence[float],
        basis: Any = ((0.0, 0.0),),
        intensities: Sequence[float] | float = (1.0,),
        rotation: float = 0.0,
        name: str = "lattice",
        parameters: dict | None = None,
    ) -> None:
        a1 = np.array(_pair("a1", a1))
        a2 = np.array(_pair("a2", a2))
        cell = np.array([a1, a2])
        area = abs(np.linalg.det(cell))
        scale = max(np.linalg.norm(a1), np.linalg.norm(a2))
        if scale == 0 or area < 1e-9 * scale**2:
            raise ValueError("a1 and a2 must be non-zero and linearly independent")
        basis = np.array(basis, dtype=float)
        if basis.ndim != 2 or basis.shape[1] != 2 or basis.shape[0] < 1:
            raise ValueError(f"basis must have shape (n_sites, 2), got {basis.shape}")
        if not np.all(np.isfinite(basis)):
            raise ValueError("basis must be finite")
        inten = np.atleast_1d(np.array(intensities, dtype=float))
        if inten.ndim != 1:
            raise ValueError("intensities must be a sequence of numbers")
        if inten.size == 1:
            inten = np.full(basis.shape[0], inten[0])
        if inten.size != basis.shape[0]:
            raise ValueError(
                f"intensities must have 1 or {basis.shape[0]} values (one per site), got {inten.size}"
            )
        if not np.all(np.isfinite(inten)) or np.any(inten <= 0):
            raise ValueError(f"intensities must be finite and > 0, got {inten.tolist()}")
        self._a1, self._a2 = a1, a2
        self._basis = basis
        self._intensities = inten
        self._rotation = _real("rotation", rotation)
        self.name = str(name)
        self.parameters = dict(parameters or {})

    # -- named constructors ------------------------------------------------- #
    @classmethod
    def square(cls, a: float, rotation: float = 0.0, intensities: Sequence[float] | float = (1.0,)) -> Lattice:
        """Square lattice of constant ``a`` (nm), one site per cell."""
        a = _positive("a", a)
        return cls(a * _direction(0), a * _direction(90), [(0, 0)], intensities, rotation, "square", {"a": a})

    @classmethod
    def rectangular(
        cls, a: float, b: float, rotation: float = 0.0, intensities: Sequence[float] | float = (1.0,)
    ) -> Lattice:
        """Rectangular lattice, ``a`` along x and ``b`` along y before rotation (nm)."""
        a, b = _positive("a", a), _positive("b", b)
        return cls(
            a * _direction(0), b * _direction(90), [(0, 0)], intensities, rotation, "rectangular", {"a": a, "b": b}
        )

    @classmethod
    def centred_rectangular(
        cls, a: float, b: float, rotation: float = 0.0, intensities: Sequence[float] | float = (1.0,)
    ) -> Lattice:
        """Centred rectangular lattice: conventional ``a`` x ``b`` cell (nm) with sites at
        its corner and centre; ``intensities`` has 1 or 2 values (corner, centre)."""
        a, b = _positive("a", a), _positive("b", b)
        return cls(
            a * _direction(0),
            b * _direction(90),
            [(0, 0), (0.5, 0.5)],
            intensities,
            rotation,
            "centred_rectangular",
            {"a": a, "b": b},
        )

    @classmethod
    def hexagonal(cls, a: float, rotation: float = 0.0, intensities: Sequence[float] | float = (1.0,)) -> Lattice:
        """Hexagonal (triangular) lattice of constant ``a`` (nm), one site per cell."""
        a = _positive("a", a)
        return cls(a * _direction(0), a * _direction(60), [(0, 0)], intensities, rotation, "hexagonal", {"a": a})

    @classmethod
    def honeycomb(
        cls, a: float, rotation: float = 0.0, intensities: Sequence[float] | float = (1.0, 0.5)
    ) -> Lattice:
        """Honeycomb (graphene/h-BN/MoS2-like) lattice: hexagonal lattice constant ``a``
        (nm), two sites at fractional (0, 0) and (1/3, 1/3), nearest-neighbour distance
        ``a / sqrt(3)``; ``intensities`` (site A, site B) set their brightness."""
        a = _positive("a", a)
        return cls(
            a * _direction(0),
            a * _direction(60),
            [(0, 0), (1 / 3, 1 / 3)],
            intensities,
            rotation,
            "honeycomb",
            {"a": a},
        )

    @classmethod
    def perovskite_001(
        cls, a: float = 0.39, rotation: float = 0.0, intensities: Sequence[float] = (1.0, 0.45)
    ) -> Lattice:
        """ABO3 perovskite along [001]: cubic cell ``a`` (nm), A columns at the corners and
        B(O) columns at the centre. Two intensities (A, B) give the HAADF-like two-site
        pattern; a third value adds the pure-O columns at the edge centres."""
        a = _positive("a", a)
        inten = np.atleast_1d(np.asarray(intensities, dtype=float))
        if inten.size == 2:
            basis = [(0, 0), (0.5, 0.5)]
        elif inten.size == 3:
            basis = [(0, 0), (0.5, 0.5), (0.5, 0.0), (0.0, 0.5)]
            inten = np.array([inten[0], inten[1], inten[2], inten[2]])
        else:
            raise ValueError(f"intensities must have 2 (A, B) or 3 (A, B, O) values, got {inten.size}")
        return cls(a * _direction(0), a * _direction(90), basis, inten, rotation, "perovskite_001", {"a": a})

    @classmethod
    def dumbbell_110(
        cls, a: float = 0.543, rotation: float = 0.0, intensities: Sequence[float] = (1.0, 1.0)
    ) -> Lattice:
        """Diamond / zinc-blende projected along [110] (Si, Ge, GaAs): cubic constant
        ``a`` (nm); projected cell ``a / sqrt(2)`` along x ([1-10]) by ``a`` along y
        ([001]) with two dumbbells whose columns are ``a / 4`` apart along y.
        ``intensities`` are the two columns of a dumbbell (equal for Si, unequal for
        GaAs)."""
        a = _positive("a", a)
        inten = np.atleast_1d(np.asarray(intensities, dtype=float))
        if inten.size == 1:
            inten = np.repeat(inten, 2)
        if inten.size != 2:
            raise ValueError(f"intensities must have 1 or 2 values (the two columns of a dumbbell), got {inten.size}")
        return cls(
            (a / math.sqrt(2)) * _direction(0),
            a * _direction(90),
            [(0, 0), (0, 0.25), (0.5, 0.5), (0.5, 0.75)],
            [inten[0], inten[1], inten[0], inten[1]],
            rotation,
            "dumbbell_110",
            {"a": a},
        )

    # -- properties ---------------------------------------------------------- #
    @property
    def rotation(self) -> float:
        """Rotation in degrees (counter-clockwise as displayed)."""
        return self._rotation

    @property
    def vectors(self) -> np.ndarray:
        """(2, 2) float array: rows are the rotated cell vectors a1, a2 as (y, x) in nm."""
        return _rotate(np.array([self._a1, self._a2]), self._rotation)

    @property
    def basis(self) -> np.ndarray:
        """(n_sites, 2) float array of fractional site coordinates."""
        return self._basis.copy()

    @property
    def intensities(self) -> np.ndarray:
        """(n_sites,) float array of site intensities."""
        return self._intensities.copy()

    @property
    def n_sites(self) -> int:
        return int(self._basis.shape[0])

    @property
    def cell_area(self) -> float:
        """Area of the cell in nm^2."""
        return float(abs(np.linalg.det(self.vectors)))

    def rotated(self, angle: float) -> Lattice:
        """A copy rotated by a further ``angle`` degrees."""
        return Lattice(
            self._a1, self._a2, self._basis, self._intensities, self._rotation + _real("angle", angle),
            self.name, self.parameters,
        )

    def points(
        self, bounds: tuple[float, float, float, float], origin: Sequence[float] = (0.0, 0.0)
    ) -> tuple[np.ndarray, np.ndarray]:
        """Column positions inside a rectangle.

        Parameters
        ----------
        bounds : (ymin, ymax, xmin, xmax)
            Rectangle in nm (same frame as ``origin``); bounds are inclusive.
        origin : pair of float
            Position ``(y, x)`` of the site at fractional (0, 0) of cell (0, 0).

        Returns
        -------
        positions : (N, 2) float64 ndarray
            ``(y, x)`` in nm.
        sites : (N,) int64 ndarray
            Index of the basis site of each column.
        """
        ymin, ymax, xmin, xmax = (float(b) for b in bounds)
        origin = np.array(_pair("origin", origin))
        vec = self.vectors
        inv = np.linalg.inv(vec)
        corners = np.array([[ymin, xmin], [ymin, xmax], [ymax, xmin], [ymax, xmax]]) - origin
        frac = corners @ inv
        lo = np.floor(frac.min(axis=0) - self._basis.max(axis=0)).astype(int) - 1
        hi = np.ceil(frac.max(axis=0) - self._basis.min(axis=0)).astype(int) + 1
        n1, n2 = np.meshgrid(np.arange(lo[0], hi[0] + 1), np.arange(lo[1], hi[1] + 1), indexing="ij")
        cells = np.stack([n1.ravel(), n2.ravel()], axis=1).astype(float)
        fr = cells[:, None, :] + self._basis[None, :, :]  # (cells, sites, 2)
        pos = origin + fr.reshape(-1, 2) @ vec
        sites = np.tile(np.arange(self.n_sites), cells.shape[0])
        keep = (pos[:, 0] >= ymin) & (pos[:, 0] <= ymax) & (pos[:, 1] >= xmin) & (pos[:, 1] <= xmax)
        return pos[keep], sites[keep]

    def nearest_neighbour_distance(self) -> float:
        """Smallest distance between two columns of the lattice, in nm."""
        r = 3.0 * float(np.abs(self.vectors).sum())
        pos, _ = self.points((-r, r, -r, r))
        d, _ = cKDTree(pos).query(pos, k=2)
        return float(d[:, 1].min())

    @property
    def period(self) -> float:
        """Length (nm) of the shortest translation that maps the columns onto themselves.

        Intensities count: a translation must carry every column onto a column of the
        same intensity. It is the lattice constant for the named constructors with
        distinct site intensities (``square``, ``hexagonal``, ``honeycomb``,
        ``perovskite_001``), and shorter than the conventional cell when equal sites
        centre it (``centred_rectangular`` with equal intensities: ``|(a/2, b/2)|``).
        This is the period a lattice analysis (autocorrelation / FFT) of the image
        finds, and the length :func:`pixel_size_for_period` divides.
        """
        vec = np.array([self._a1, self._a2])  # unrotated: lengths do not depend on the rotation
        f = self._basis
        inten = self._intensities
        tol = 1e-6 * (1.0 + float(np.abs(inten).max()))
        n = np.arange(-3, 4)
        cand = []
        for j in np.flatnonzero(np.abs(inten - inten[0]) <= tol):
            d = f[j] - f[0]
            for n1 in n:
                for n2 in n:
                    fr = d + (n1, n2)
                    t = fr @ vec
                    if float(t @ t) > 0:
                        cand.append((float(np.hypot(t[0], t[1])), fr))
        cand.sort(key=lambda c: c[0])
        for length, fr in cand:
            moved = f + fr  # fractional positions of every site after the translation
            ok = True
            for s in range(len(f)):
                diff = (moved[s] - f + 0.5) % 1.0 - 0.5  # distance mod the cell to each site
                match = np.all(np.abs(diff) < 1e-6, axis=1) & (np.abs(inten - inten[s]) <= tol)
                if not match.any():
                    ok = False
                    break
            if ok:
                return float(f"{length:.12g}")  # equal-length candidates differ in the last bits
        return float(min(np.linalg.norm(vec, axis=1)))  # pragma: no cover - lattice vectors always match

    def to_dict(self) -> dict:
        """Plain-value description for metadata."""
        return _plain(
            {
                "type": "Lattice",
                "name": self.name,
                "parameters": self.parameters,
                "rotation": self._rotation,
                "vectors": self.vectors,
                "basis": self._basis,
                "intensities": self._intensities,
            }
        )

    def __repr__(self) -> str:
        par = ", ".join(f"{k}={v:g}" for k, v in self.parameters.items())
        return f"Lattice.{self.name}({par}, rotation={self._rotation:g}, intensities={self._intensities.tolist()})"


class Amorphous:
    """Random, non-overlapping columns (amorphous material, no long-range order).

    Columns are placed by random sequential addition: uniformly random candidates,
    each kept only if no already kept column is closer than ``min_distance``.

    Parameters
    ----------
    density : float
        Columns per nm^2, > 0. The packing fraction ``density * pi * min_distance**2 / 4``
        must stay below 0.5 (random sequential addition jams at 0.547).
    min_distance : float
        Minimum distance between two columns in nm, > 0.
    intensity : pair of float
        Column intensities are uniform in ``[low, high]``, ``0 < low <= high``.
    seed : int, optional
        Seed of the column positions; None draws one from the simulation's random
        state (fixed per series so the amorphous region is the same in every frame).
    """

    def __init__(
        self,
        density: float = 8.0,
        min_distance: float = 0.22,
        intensity: Sequence[float] = (0.3, 0.7),
        seed: int | None = None,
    ) -> None:
        self.density = _positive("density", density)
        self.min_distance = _positive("min_distance", min_distance)
        packing = self.density * math.pi * self.min_distance**2 / 4
        if packing >= 0.5:
            raise ValueError(
                f"density * pi * min_distance**2 / 4 must be < 0.5 (random packing limit), got {packing:.3f}"
            )
        lo, hi = _pair("intensity", intensity)
        if not 0 < lo <= hi:
            raise ValueError(f"intensity must satisfy 0 < low <= high, got {(lo, hi)}")
        self.intensity = (lo, hi)
        if seed is not None and (not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0):
            raise TypeError(f"seed must be None or a non-negative int, got {seed!r}")
        self.seed = None if seed is None else int(seed)
        self.name = "amorphous"

    def with_seed(self, seed: int) -> Amorphous:
        return Amorphous(self.density, self.min_distance, self.intensity, seed)

    def points(self, bounds: tuple[float, float, float, float]) -> tuple[np.ndarray, np.ndarray]:
        """Column positions ``(N, 2)`` (y, x) nm and intensities ``(N,)`` inside ``bounds``."""
        ymin, ymax, xmin, xmax = (float(b) for b in bounds)
        rng = np.random.default_rng(self.seed)
        area = max(ymax - ymin, 0.0) * max(xmax - xmin, 0.0)
        target = int(round(self.density * area))
        if target == 0:
            return np.empty((0, 2)), np.empty(0)
        n_cand = 4 * target + 16
        cand = np.column_stack([rng.uniform(ymin, ymax, n_cand), rng.uniform(xmin, xmax, n_cand)])
        pairs = cKDTree(cand).query_pairs(self.min_distance, output_type="ndarray")
        # earlier neighbours of each candidate (pairs have i < j)
        order = np.argsort(pairs[:, 1], kind="stable")
        earlier = pairs[order, 0]
        starts = np.searchsorted(pairs[order, 1], np.arange(n_cand + 1))
        kept = bytearray(n_cand)  # plain-Python loop: ~10x faster than numpy on these tiny slices
        earlier_l, starts_l = earlier.tolist(), starts.tolist()
        count = 0
        for j in range(n_cand):
            for i in earlier_l[starts_l[j] : starts_l[j + 1]]:
                if kept[i]:
                    break
            else:
                kept[j] = 1
                count += 1
                if count == target:
                    break
        pos = cand[np.frombuffer(bytes(kept), dtype=np.uint8).astype(bool)]
        lo, hi = self.intensity
        return pos, rng.uniform(lo, hi, len(pos))

    def to_dict(self) -> dict:
        return _plain(
            {
                "type": "Amorphous",
                "density": self.density,
                "min_distance": self.min_distance,
                "intensity": list(self.intensity),
                "seed": -1 if self.seed is None else self.seed,
            }
        )

    def __repr__(self) -> str:
        return f"Amorphous(density={self.density:g}, min_distance={self.min_distance:g}, intensity={self.intensity})"


class Vacuum:
    """No columns (vacuum or hole); only the background is imaged."""

    name = "vacuum"

    def to_dict(self) -> dict:
        return {"type": "Vacuum"}

    def __repr__(self) -> str:
        return "Vacuum()"
