"""Backgrounds and scan distortions."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._utils import _pair, _positive, _real


# --------------------------------------------------------------------------- #
# backgrounds
# --------------------------------------------------------------------------- #
class _Background:
    """Backgrounds are smooth functions of the specimen position (nm, relative to the
    centre of the field of view), in image units (peak of an isolated unit column)."""

    def _prepared(self, rng: np.random.Generator) -> _Background:
        return self

    def evaluate(self, y: np.ndarray, x: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        """Background at points ``(y, x)`` (nm relative to the centre), broadcast."""
        raise NotImplementedError

    def _rows(self, y: np.ndarray, x: np.ndarray, dx: np.ndarray) -> np.ndarray:
        """Background on a scan grid: row ``i`` at ``y[i]``, columns at ``x + dx[i]``."""
        return self.evaluate(y[:, None], x[None, :] + dx[:, None])


class ConstantBackground(_Background):
    """Constant background ``level`` (image units)."""

    def __init__(self, level: float = 0.05) -> None:
        self.level = _real("level", level)

    def evaluate(self, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        return np.full(np.broadcast_shapes(np.shape(y), np.shape(x)), self.level)

    def to_dict(self) -> dict:
        return {"type": "ConstantBackground", "level": self.level}


class LinearBackground(_Background):
    """Linear ramp: ``level + gradient[0] * y + gradient[1] * x`` (y, x in nm from the centre).

    ``gradient`` is in image units per nm, e.g. a thickness wedge.
    """

    def __init__(self, level: float = 0.05, gradient: Sequence[float] = (0.0, 0.01)) -> None:
        self.level = _real("level", level)
        self.gradient = _pair("gradient", gradient)

    def evaluate(self, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        return self.level + self.gradient[0] * np.asarray(y, float) + self.gradient[1] * np.asarray(x, float)

    def to_dict(self) -> dict:
        return {"type": "LinearBackground", "level": self.level, "gradient": list(self.gradient)}


class LowFrequencyBackground(_Background):
    """Random smooth background (contamination, thickness, amorphous overlayer).

    A Gaussian random field with standard deviation ``amplitude`` (image units),
    Gaussian correlation of length ``length`` (nm) and mean ``level``, built from
    ``n_modes`` random plane waves drawn from the simulation's random state.
    """

    def __init__(self, amplitude: float = 0.03, length: float = 2.0, level: float = 0.0, n_modes: int = 24) -> None:
        self.amplitude = _positive("amplitude", amplitude, allow_zero=True)
        self.length = _positive("length", length)
        self.level = _real("level", level)
        if isinstance(n_modes, bool) or not isinstance(n_modes, (int, np.integer)) or n_modes < 1:
            raise ValueError(f"n_modes must be an int >= 1, got {n_modes!r}")
        self.n_modes = int(n_modes)
        self._modes: tuple[np.ndarray, np.ndarray] | None = None  # (wavevectors (M, 2) rad/nm, phases (M,))

    def _prepared(self, rng: np.random.Generator) -> LowFrequencyBackground:
        if self._modes is not None:
            return self
        k = rng.normal(0.0, 1.0 / self.length, size=(self.n_modes, 2))  # rad/nm, Gaussian correlation
        phase = rng.uniform(0.0, 2 * np.pi, self.n_modes)
        out = LowFrequencyBackground(self.amplitude, self.length, self.level, self.n_modes)
        out._modes = (k, phase)
        return out

    def _coeffs(self) -> tuple[np.ndarray, np.ndarray, float]:
        if self._modes is None:
            raise RuntimeError("LowFrequencyBackground must be prepared with a random state first")
        k, phase = self._modes
        return k, phase, self.amplitude * math.sqrt(2.0 / self.n_modes)

    def evaluate(self, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        k, phase, amp = self._coeffs()
        y = np.asarray(y, float)[..., None]
        x = np.asarray(x, float)[..., None]
        return self.level + amp * np.cos(k[:, 0] * y + k[:, 1] * x + phase).sum(axis=-1)

    def _rows(self, y: np.ndarray, x: np.ndarray, dx: np.ndarray) -> np.ndarray:
        k, phase, amp = self._coeffs()
        # cos(ky*y + kx*(x + dx) + p) = Re[exp(i(ky*y + kx*dx + p)) * exp(i kx x)]: separable per row
        u = np.exp(1j * (np.outer(y, k[:, 0]) + np.outer(dx, k[:, 1]) + phase))  # (ny, M)
        v = np.exp(1j * np.outer(k[:, 1], x))  # (M, nx)
        return self.level + amp * (u @ v).real

    def to_dict(self) -> dict:
        d = {"type": "LowFrequencyBackground", "amplitude": self.amplitude, "length": self.length,
             "level": self.level, "n_modes": self.n_modes}
        if self._modes is not None:
            d["wavevectors"] = self._modes[0].tolist()
            d["phases"] = self._modes[1].tolist()
        return d


def _as_backgrounds(background: Any) -> list[_Background]:
    if background is None:
        return []
    if isinstance(background, (int, float, np.integer, np.floating)) and not isinstance(background, bool):
        return [ConstantBackground(float(background))]
    if isinstance(background, _Background):
        return [background]
    if isinstance(background, (list, tuple)):
        out: list[_Background] = []
        for b in background:
            out.extend(_as_backgrounds(b))
        return out
    raise TypeError(
        "background must be None, a number, a ConstantBackground/LinearBackground/LowFrequencyBackground "
        f"or a list of them, got {type(background).__name__}"
    )


# --------------------------------------------------------------------------- #
# scan noise
# --------------------------------------------------------------------------- #
class ScanNoise:
    """Scan distortions: per-row jitter modulated by a line-frequency sine, plus drift.

    Row ``i``, scanned at time ``t_i = t0 + i * line_time``, samples the specimen at
    ``r + delta_i`` with (y, x) components

    ``delta_i = z_i * sigma * (sin(2 pi f t_i + phase), sin(2 pi f t_i)) - drift * t_i``

    and ``z_i ~ Normal(0, 1)``, one draw per row shared by x and y (Lin et al. 2021).
    The specimen drifts by ``drift * t`` during the frame, so features appear to move
    by ``+drift * t``.

    Parameters
    ----------
    sigma : float
        Jitter amplitude in nm (>= 0), typically 0.01-0.02.
    frequency : float
        Interference frequency in Hz (>= 0), e.g. 50 or 60 (mains).
    phase : float
        Phase of the y displacement relative to x, degrees.
    drift : pair of float
        Specimen drift velocity ``(vy, vx)`` in nm/s.
    line_time : float
        Time to scan one row in s (> 0); 1e-3 s is ~2 us dwell at 512 pixels.
    """

    def __init__(
        self,
        sigma: float = 0.02,
        frequency: float = 50.0,
        phase: float = 90.0,
        drift: Sequence[float] = (0.0, 0.0),
        line_time: float = 1e-3,
    ) -> None:
        self.sigma = _positive("sigma", sigma, allow_zero=True)
        self.frequency = _positive("frequency", frequency, allow_zero=True)
        self.phase = _real("phase", phase)
        self.drift = _pair("drift", drift)
        self.line_time = _positive("line_time", line_time)

    def displacements(self, n_rows: int, rng: np.random.Generator, t0: float = 0.0) -> np.ndarray:
        """(n_rows, 2) float64 displacement ``(dy, dx)`` in nm of each row."""
        t = t0 + np.arange(n_rows) * self.line_time
        z = rng.standard_normal(n_rows)
        w = 2 * np.pi * self.frequency * t
        dy = z * self.sigma * np.sin(w + math.radians(self.phase)) - self.drift[0] * t
        dx = z * self.sigma * np.sin(w) - self.drift[1] * t
        return np.column_stack([dy, dx])

    def to_dict(self) -> dict:
        return {"type": "ScanNoise", "sigma": self.sigma, "frequency": self.frequency, "phase": self.phase,
                "drift": list(self.drift), "line_time": self.line_time}

    def __repr__(self) -> str:
        return (f"ScanNoise(sigma={self.sigma:g}, frequency={self.frequency:g}, phase={self.phase:g}, "
                f"drift={self.drift}, line_time={self.line_time:g})")
