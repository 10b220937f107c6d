"""The model's domain: where it was trained, and how far a query lies from that.

With two observed numbers (the block's x, y) and two unknowns (xi), Eq. (2) always fits the first-step
perception, also for a block far outside the demonstrated positions: there the residual is tiny and the
generated behaviour is wrong. So the residual cannot tell trust; the training data can. A model file
records, per behaviour, the block positions of its training samples and the samples' learned
coordinates, and every completion is measured against them:

- ``pose_distance``: metres from the block to the convex hull of the behaviour's training block
  positions (0 inside). The default dataset's hull is the workspace rectangle x 0.35-0.60, y -0.20-0.20 m.
- ``chart_distance``: the inferred coordinates' distance to the convex hull of the training
  coordinates, in units of their typical spacing (the median nearest-neighbour distance between training
  samples; 0 inside). A conformal chart lays the coordinates out like the block positions (the paper's
  Fig. 4), so this reads like "grid cells outside the training cloud", and it stays meaningful when the
  coordinates are inferred from more than the block (a joint prefix), where no pose is given.

The hull distance is a small non-negative least-squares problem (scipy's ``nnls``), exact in any
dimension, so the no-embedding case (coordinates in z, L dims) is measured the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls

# What a completion does with a pose outside the domain (beyond the margin).
REFUSE, WARN, ALLOW = "refuse", "warn", "allow"
POLICIES = (REFUSE, WARN, ALLOW)


def hull_distance(points: np.ndarray, x: np.ndarray) -> float:
    """Euclidean distance from ``x`` [D] to the convex hull of ``points`` [N, D] (0 inside).

    The nearest hull point is sum_i w_i p_i with w >= 0, sum w = 1: a least-squares problem in w with
    the sum as one heavily weighted extra equation, which ``nnls`` solves to rounding error.
    """
    points = np.asarray(points, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    if points.ndim != 2 or points.shape[0] == 0 or points.shape[1] != x.shape[0]:
        raise ValueError(f"hull of points {points.shape} and a query of {x.shape[0]} dims do not match")
    scale = max(float(np.abs(points).max()), float(np.abs(x).max()), 1e-12)
    weight = 1e3 * scale  # the sum-to-one row dominates the fit without spoiling its conditioning
    a = np.vstack([points.T, np.full((1, points.shape[0]), weight)])
    b = np.concatenate([x, [weight]])
    try:
        w, _ = nnls(a, b, maxiter=50 * points.shape[0])
    except RuntimeError as exc:  # scipy: the iteration limit was reached (not seen in practice)
        raise ValueError(f"the distance to the trained region could not be computed ({exc})") from None
    w = w / w.sum()
    d = float(np.linalg.norm(points.T @ w - x))
    return 0.0 if d < 1e-9 * scale else d


def median_spacing(points: np.ndarray) -> float:
    """Median distance from each point to its nearest neighbour: the cloud's own length unit."""
    points = np.asarray(points, dtype=np.float64)
    if points.shape[0] < 2:
        return 1.0
    d = np.linalg.norm(points[:, None, :] - points[None, :, :], axis=-1)
    np.fill_diagonal(d, np.inf)
    spacing = float(np.median(d.min(axis=1)))
    return spacing if spacing > 0 else 1.0


@dataclass
class DomainReport:
    """How far one completion lies from the training data (both 0 inside)."""

    pose_distance: float  # metres outside the hull of the training block positions; NaN if unknown
    chart_distance: float  # coordinate-spacings outside the hull of the training coordinates; NaN if unknown

    def to_dict(self) -> dict[str, float]:
        return {"pose_distance_m": self.pose_distance, "chart_distance": self.chart_distance}


@dataclass
class Domain:
    """Training block positions and coordinates per behaviour, as recorded in the model file."""

    block_xy: dict[int, np.ndarray]  # behaviour index -> [N_p, 2] metres, table frame
    coords: dict[int, np.ndarray]  # behaviour index -> [N_p, D] learned xi (z without embedding)

    def __post_init__(self) -> None:
        self._spacing = {p: median_spacing(c) for p, c in self.coords.items()}

    @classmethod
    def from_samples(cls, block_xy: np.ndarray, patterns: np.ndarray, coords: np.ndarray) -> Domain:
        """Group per-sample block positions [N, 2] and coordinates [N, D] by behaviour index [N]."""
        block_xy, patterns = np.asarray(block_xy, dtype=np.float64), np.asarray(patterns).astype(int)
        coords = np.asarray(coords, dtype=np.float64)
        if not (block_xy.shape[0] == patterns.shape[0] == coords.shape[0]) or block_xy.shape[1:] != (2,):
            raise ValueError(f"domain samples disagree: block_xy {block_xy.shape}, patterns {patterns.shape}, "
                             f"coords {coords.shape}")
        return cls({int(p): block_xy[patterns == p] for p in np.unique(patterns)},
                   {int(p): coords[patterns == p] for p in np.unique(patterns)})

    def to_payload(self) -> dict:
        """Tensors-and-lists form for the model file (readable with ``weights_only=True``)."""
        import torch

        return {"block_xy": {p: torch.as_tensor(v) for p, v in self.block_xy.items()},
                "coords": {p: torch.as_tensor(v) for p, v in self.coords.items()}}

    @classmethod
    def from_payload(cls, data: dict) -> Domain:
        def arrays(d: dict) -> dict[int, np.ndarray]:
            return {int(p): np.asarray(v.cpu().numpy() if hasattr(v, "cpu") else v, dtype=np.float64)
                    for p, v in d.items()}

        block_xy, coords = arrays(data["block_xy"]), arrays(data["coords"])
        if set(block_xy) != set(coords):
            raise ValueError("domain block positions and coordinates name different behaviours")
        for p in block_xy:
            xy, c = block_xy[p], coords[p]
            if xy.ndim != 2 or xy.shape[1] != 2 or c.ndim != 2 or len(c) != len(xy) or len(xy) == 0:
                raise ValueError(f"behaviour {p}: {xy.shape} block positions and {c.shape} coordinates")
            if not (np.isfinite(xy).all() and np.isfinite(c).all()):
                raise ValueError(f"behaviour {p}: non-finite positions or coordinates")
        return cls(block_xy, coords)

    def bounds(self, pattern: int) -> tuple[tuple[float, float], tuple[float, float]]:
        """(x_min, x_max), (y_min, y_max) of a behaviour's training block positions, metres."""
        xy = self.block_xy[pattern]
        return (float(xy[:, 0].min()), float(xy[:, 0].max())), (float(xy[:, 1].min()), float(xy[:, 1].max()))

    def describe(self, pattern: int) -> str:
        """The trained region in words, for log lines: 'x 0.350-0.600, y -0.200-0.200 m (25 positions)'."""
        if pattern not in self.block_xy:
            return "no training positions"
        (x0, x1), (y0, y1) = self.bounds(pattern)
        return f"x {x0:.3f}-{x1:.3f}, y {y0:.3f}-{y1:.3f} m, {len(self.block_xy[pattern])} positions"

    def pose_distance(self, block_xy: np.ndarray, pattern: int) -> float:
        """Metres from the block to the hull of the behaviour's training block positions (0 inside)."""
        if pattern not in self.block_xy:
            return float("nan")
        return hull_distance(self.block_xy[pattern], block_xy)

    def chart_distance(self, coords: np.ndarray, pattern: int) -> float:
        """Coordinate-spacings from ``coords`` to the hull of the behaviour's training coordinates."""
        if pattern not in self.coords:
            return float("nan")
        return hull_distance(self.coords[pattern], coords) / self._spacing[pattern]
