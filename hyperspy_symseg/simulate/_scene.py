"""Regions and scenes: which content covers which part of the field of view."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from ._lattices import Amorphous, Lattice, Vacuum
from ._shapes import Shape
from ._thickness import _as_thickness
from ._utils import _image_shape, _pair, _plain, _positive, _real, _rng


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
    thickness : None, float, ThicknessMap or callable, optional
        Factor ``t(y, x) >= 0`` multiplying the intensity of every column of the region
        (and its ``level``): a :class:`WedgeThickness`, a :class:`DomeThickness`, a
        number, or any callable ``f(y, x) -> array`` of coordinates in nm relative to
        the centre of the field of view (the frame of the shapes). None is 1.
    level : float, optional
        Diffuse intensity (image units, any sign) added inside the region, times its
        thickness and blurred by the probe: the incoherent background that a thick
        crystal adds between its columns, or the step from a particle to vacuum.
    overlay : bool, optional
        False (default): the region is painted over earlier ones, whose columns are
        removed where it is. True: it lies on top of them (a contamination layer,
        an amorphous film): the earlier regions' columns stay, attenuated by
        ``transmission``, and its own columns are added. Either way the ground-truth
        label there is this region's.
    transmission : float, optional
        With ``overlay=True``: factor in [0, 1] applied to the columns and the level of
        the earlier regions under the region (1 leaves them intact).
    """

    def __init__(
        self,
        lattice: Lattice | Amorphous | Vacuum | None = None,
        shape: Shape | None = None,
        origin: Sequence[float] | None = None,
        name: str | None = None,
        *,
        thickness: Any = None,
        level: float = 0.0,
        overlay: bool = False,
        transmission: float = 1.0,
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
        self.thickness = _as_thickness(thickness)
        self.level = _real("level", level)
        if not isinstance(overlay, (bool, np.bool_)):
            raise TypeError(f"overlay must be True or False, got {overlay!r}")
        self.overlay = bool(overlay)
        self.transmission = _positive("transmission", transmission, allow_zero=True)
        if self.transmission > 1:
            raise ValueError(f"transmission must be in [0, 1], got {self.transmission}")
        if not self.overlay and self.transmission != 1.0:
            raise ValueError("transmission applies to overlay regions only: pass overlay=True or transmission=1")

    def _replace(self, **changes: Any) -> Region:
        kw = {"lattice": self.lattice, "shape": self.shape, "origin": self.origin, "name": self.name,
              "thickness": self.thickness, "level": self.level, "overlay": self.overlay,
              "transmission": self.transmission}
        kw.update(changes)
        return Region(**kw)

    def _resolved(self, rng: np.random.Generator) -> Region:
        content = self.lattice
        origin = self.origin
        if isinstance(content, Lattice) and origin is None:
            origin = tuple(rng.uniform(0.0, 1.0, 2) @ content.vectors)
        if isinstance(content, Amorphous) and content.seed is None:
            content = content.with_seed(int(rng.integers(0, 2**31 - 1)))
        return self._replace(lattice=content, origin=origin)

    def with_shape(self, shape: Shape | None) -> Region:
        return self._replace(shape=shape)

    def to_dict(self) -> dict:
        return _plain(
            {
                "name": self.name,
                "content": self.lattice.to_dict(),
                "shape": {"type": "Plane"} if self.shape is None else self.shape.to_dict(),
                "origin": [] if self.origin is None else list(self.origin),
                "thickness": {"type": "None"} if self.thickness is None else self.thickness.to_dict(),
                "level": self.level,
                "overlay": self.overlay,
                "transmission": self.transmission,
            }
        )

    def __repr__(self) -> str:
        extra = ""
        if self.thickness is not None:
            extra += f", thickness={self.thickness!r}"
        if self.level:
            extra += f", level={self.level:g}"
        if self.overlay:
            extra += f", overlay=True, transmission={self.transmission:g}"
        return f"Region({self.lattice!r}, shape={self.shape!r}, origin={self.origin}{extra})"


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
        At least one. Later regions are painted over earlier ones (or lie on top of
        them, ``Region(..., overlay=True)``); every pixel must be covered by some
        region (give the first one ``shape=None``).
    min_separation : float, optional
        A column closer than this (nm) to a column already placed by an *earlier*
        region is dropped, so columns of neighbouring regions never overlap at a
        boundary. Default: 0.75 times the smallest nearest-neighbour distance of the
        scene's lattices (or amorphous ``min_distance``). Columns of an ``overlay``
        region are exempt: they lie on top of the columns below.
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

    def content_weights(self, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        """How much of each region's content is seen at points ``(y, x)`` (nm, image frame).

        Returns a (K, ...) float64 array, K the number of regions: 1 where region ``k``
        covers the point and nothing is painted over it, the product of the
        ``transmission`` of the overlay regions above it, 0 where it is absent or
        painted over. Without overlays it is the indicator of ``label_at == k``.
        """
        cy, cx = self.center
        yc, xc = np.broadcast_arrays(np.asarray(y, dtype=float) - cy, np.asarray(x, dtype=float) - cx)
        out = np.zeros((len(self.regions),) + yc.shape)
        above = np.ones(yc.shape)  # attenuation by the regions above the current one
        for k in range(len(self.regions) - 1, -1, -1):
            reg = self.regions[k]
            inside = np.ones(yc.shape, dtype=bool) if reg.shape is None else reg.shape.contains(yc, xc)
            out[k] = np.where(inside, above, 0.0)
            above = np.where(inside, above * (reg.transmission if reg.overlay else 0.0), above)
        return out

    def diffuse_level(self, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Sum of the regions' diffuse ``level`` times thickness times content weight at
        points ``(y, x)`` (nm, image frame), before the probe blur; float64, broadcast shape."""
        cy, cx = self.center
        yc, xc = np.broadcast_arrays(np.asarray(y, dtype=float) - cy, np.asarray(x, dtype=float) - cx)
        out = np.zeros(yc.shape)
        if not any(r.level for r in self.regions):
            return out
        weights = self.content_weights(y, x)
        for k, reg in enumerate(self.regions):
            if reg.level:
                t = 1.0 if reg.thickness is None else reg.thickness.evaluate(yc, xc)
                out += reg.level * t * weights[k]
        return out

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
            if scene._plain_painting():
                mine = scene.label_at(pos[:, 0], pos[:, 1]) == k
                pos, sites, inten = pos[mine], sites[mine], inten[mine]
            else:
                w = scene.content_weights(pos[:, 0], pos[:, 1])[k]
                mine = w > 0
                pos, sites, inten = pos[mine], sites[mine], inten[mine] * w[mine]
            if reg.thickness is not None and len(pos):
                inten = inten * reg.thickness.evaluate(pos[:, 0] - cy, pos[:, 1] - cx)
            if (placed is not None and len(placed) and len(pos) and scene.min_separation > 0
                    and not reg.overlay):
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

    def _plain_painting(self) -> bool:
        return not any(r.overlay for r in self.regions)

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
