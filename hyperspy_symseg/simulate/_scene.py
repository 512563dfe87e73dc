"""Regions and scenes: which content covers which part of the field of view."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from ._lattices import Amorphous, Lattice, Vacuum
from ._shapes import Shape
from ._utils import _image_shape, _pair, _plain, _positive, _rng


# --------------------------------------------------------------------------- #
# regions and scenes
# --------------------------------------------------------------------------- #
class Region:
    """A region of a scene: what it contains and where.

    Parameters
    ----------
    lattice : Lattice, Amorphous, Vacuum or None
        The content: a crystal, amorphous material, or vacuum (None).
    shape : Shape or None
        Where the region is; None covers the whole plane (use it for the first,
        background region).
    origin : pair of float or None
        Position ``(y, x)`` (nm, relative to the centre of the field of view) of the
        lattice site (0, 0); None draws a random origin in the unit cell.
    name : str, optional
        Name used in metadata; defaults to the content's name.
    """

    def __init__(
        self,
        lattice: Lattice | Amorphous | Vacuum | None = None,
        shape: Shape | None = None,
        origin: Sequence[float] | None = None,
        name: str | None = None,
    ) -> None:
        if lattice is None:
            lattice = Vacuum()
        if not isinstance(lattice, (Lattice, Amorphous, Vacuum)):
            raise TypeError(f"lattice must be a Lattice, Amorphous, Vacuum or None, got {type(lattice).__name__}")
        if shape is not None and not isinstance(shape, Shape):
            raise TypeError(f"shape must be a Shape or None, got {type(shape).__name__}")
        self.lattice = lattice
        self.shape = shape
        self.origin = None if origin is None else _pair("origin", origin)
        self.name = str(name) if name is not None else lattice.name

    def _resolved(self, rng: np.random.Generator) -> Region:
        content = self.lattice
        origin = self.origin
        if isinstance(content, Lattice) and origin is None:
            origin = tuple(rng.uniform(0.0, 1.0, 2) @ content.vectors)
        if isinstance(content, Amorphous) and content.seed is None:
            content = content.with_seed(int(rng.integers(0, 2**31 - 1)))
        return Region(content, self.shape, origin, self.name)

    def with_shape(self, shape: Shape | None) -> Region:
        return Region(self.lattice, shape, self.origin, self.name)

    def to_dict(self) -> dict:
        return _plain(
            {
                "name": self.name,
                "content": self.lattice.to_dict(),
                "shape": {"type": "Plane"} if self.shape is None else self.shape.to_dict(),
                "origin": [] if self.origin is None else list(self.origin),
            }
        )

    def __repr__(self) -> str:
        return f"Region({self.lattice!r}, shape={self.shape!r}, origin={self.origin})"


@dataclass
class ColumnSet:
    """Columns of a scene (see :meth:`Scene.columns`).

    Attributes
    ----------
    positions : (N, 2) float64 ndarray
        ``(y, x)`` in nm, image frame, without scan distortion.
    regions : (N,) int64 ndarray
        Region index of each column.
    intensities : (N,) float64 ndarray
        Column intensities.
    sites : (N,) int64 ndarray
        Basis-site index (-1 for amorphous columns).
    """

    positions: np.ndarray
    regions: np.ndarray
    intensities: np.ndarray
    sites: np.ndarray


class Scene:
    """A field of view made of regions.

    Parameters
    ----------
    shape : (int, int)
        Image shape (rows, columns), at least (4, 4).
    pixel_size : float
        Pixel size in nm, > 0.
    regions : sequence of Region
        At least one. Later regions are painted over earlier ones; every pixel must
        be covered by some region (give the first one ``shape=None``).
    min_separation : float, optional
        A column closer than this (nm) to a column already placed by an *earlier*
        region is dropped, so columns of neighbouring regions never overlap at a
        boundary. Default: 0.75 times the smallest nearest-neighbour distance of the
        scene's lattices (or amorphous ``min_distance``).
    name : str, optional
        Short description used in titles.
    """

    def __init__(
        self,
        shape: tuple[int, int],
        pixel_size: float,
        regions: Sequence[Region],
        min_separation: float | None = None,
        name: str = "",
    ) -> None:
        self.shape = _image_shape("shape", shape)
        self.pixel_size = _positive("pixel_size", pixel_size)
        regions = list(regions) if not isinstance(regions, Region) else [regions]
        if len(regions) == 0:
            raise ValueError("regions must contain at least one Region")
        for r in regions:
            if not isinstance(r, Region):
                raise TypeError(f"regions must contain Region objects, got {type(r).__name__}")
        self.regions = regions
        if min_separation is None:
            scales = []
            for r in regions:
                if isinstance(r.lattice, Lattice):
                    scales.append(r.lattice.nearest_neighbour_distance())
                elif isinstance(r.lattice, Amorphous):
                    scales.append(r.lattice.min_distance)
            min_separation = 0.75 * min(scales) if scales else 0.0
        self.min_separation = _positive("min_separation", min_separation, allow_zero=True)
        self.name = str(name)

    @property
    def center(self) -> tuple[float, float]:
        """Centre of the field of view ``(y, x)`` in nm (image frame)."""
        ny, nx = self.shape
        return ((ny - 1) * self.pixel_size / 2.0, (nx - 1) * self.pixel_size / 2.0)

    @property
    def region_names(self) -> list[str]:
        return [r.name for r in self.regions]

    def resolved(self, random_state: Any = None) -> Scene:
        """A copy with every random choice fixed: lattice origins and amorphous seeds."""
        rng = _rng(random_state)
        return Scene(
            self.shape, self.pixel_size, [r._resolved(rng) for r in self.regions], self.min_separation, self.name
        )

    def label_at(self, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Region index at points ``(y, x)`` (nm, image frame); -1 where no region covers.

        Returns an int32 array of the broadcast shape of ``y`` and ``x``.
        """
        cy, cx = self.center
        yc = np.asarray(y, dtype=float) - cy
        xc = np.asarray(x, dtype=float) - cx
        yc, xc = np.broadcast_arrays(yc, xc)
        labels = np.full(yc.shape, -1, dtype=np.int32)
        for k, reg in enumerate(self.regions):
            if reg.shape is None:
                labels[...] = k
            else:
                labels[reg.shape.contains(yc, xc)] = k
        return labels

    def label_image(self) -> np.ndarray:
        """Undistorted (ny, nx) int32 label image of the scene."""
        ny, nx = self.shape
        y = np.arange(ny)[:, None] * self.pixel_size
        x = np.arange(nx)[None, :] * self.pixel_size
        labels = self.label_at(y, x)
        _check_covered(labels)
        return labels

    def columns(self, margin: float = 0.0, shift: Sequence[float] = (0.0, 0.0)) -> ColumnSet:
        """All columns within ``margin`` nm of the field of view (lab frame).

        The scene must be resolved (see :meth:`resolved`) for deterministic output;
        unresolved origins are drawn from a fresh generator. ``shift`` (nm) moves the
        specimen: a specimen point ``p`` appears at ``p + shift``.
        """
        scene = self if self._is_resolved() else self.resolved(None)
        ny, nx = self.shape
        px = self.pixel_size
        sy, sx = _pair("shift", shift)
        bounds = (-margin - sy, (ny - 1) * px + margin - sy, -margin - sx, (nx - 1) * px + margin - sx)
        cy, cx = self.center
        pos_all, reg_all, int_all, site_all = [], [], [], []
        placed: np.ndarray | None = None
        for k, reg in enumerate(scene.regions):
            content = reg.lattice
            if isinstance(content, Lattice):
                pos, sites = content.points(bounds, (reg.origin[0] + cy, reg.origin[1] + cx))
                inten = content.intensities[sites]
            elif isinstance(content, Amorphous):
                pos, inten = content.points(bounds)
                sites = np.full(len(pos), -1)
            else:
                continue
            if len(pos) == 0:
                continue
            mine = scene.label_at(pos[:, 0], pos[:, 1]) == k
            pos, sites, inten = pos[mine], sites[mine], inten[mine]
            if placed is not None and len(placed) and len(pos) and scene.min_separation > 0:
                d, _ = cKDTree(placed).query(pos, k=1, distance_upper_bound=scene.min_separation)
                free = ~(d < scene.min_separation)
                pos, sites, inten = pos[free], sites[free], inten[free]
            pos_all.append(pos)
            reg_all.append(np.full(len(pos), k, dtype=np.int64))
            int_all.append(inten)
            site_all.append(sites.astype(np.int64))
            placed = pos if placed is None else np.concatenate([placed, pos])
        if not pos_all:
            return ColumnSet(np.empty((0, 2)), np.empty(0, np.int64), np.empty(0), np.empty(0, np.int64))
        pos = np.concatenate(pos_all) + np.array([sy, sx])
        return ColumnSet(pos, np.concatenate(reg_all), np.concatenate(int_all), np.concatenate(site_all))

    def _is_resolved(self) -> bool:
        for r in self.regions:
            if isinstance(r.lattice, Lattice) and r.origin is None:
                return False
            if isinstance(r.lattice, Amorphous) and r.lattice.seed is None:
                return False
        return True

    def to_dict(self) -> dict:
        return _plain(
            {
                "name": self.name,
                "shape": list(self.shape),
                "pixel_size": self.pixel_size,
                "min_separation": self.min_separation,
                "regions": {f"region_{k}": r.to_dict() for k, r in enumerate(self.regions)},
            }
        )

    def __repr__(self) -> str:
        return f"Scene(shape={self.shape}, pixel_size={self.pixel_size:g}, regions={self.regions!r})"


def _check_covered(labels: np.ndarray) -> None:
    if labels.size and labels.min() < 0:
        raise ValueError(
            "some pixels are covered by no region: give the first region shape=None so it covers the plane"
        )
