"""Per-dimension normalization of behaviour sequences to [-1, 1] over the training set.

Joint angles (radians) and block coordinates (metres) have different ranges; the model's squared
error should weigh them alike, so every output dimension is mapped affinely so that its training
minimum goes to -1 and its maximum to +1. The statistics travel inside the checkpoint, so the nodes
convert poses and joint angles exactly as training did. Table I errors are reported in these units.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# A dimension whose training range is below this (a joint that never moves) keeps unit scale, so
# normalizing it neither divides by ~0 nor blows up noise.
MIN_RANGE = 1e-6


@dataclass(frozen=True)
class Normalizer:
    """Affine map x_norm = (x - center) / half_range, per output dimension."""

    center: np.ndarray  # [O]
    half_range: np.ndarray  # [O]

    @classmethod
    def fit(cls, sequences: np.ndarray) -> Normalizer:
        """Fit to training sequences [N, T, O]: each dimension's min/max over all samples and steps."""
        seq = np.asarray(sequences, dtype=np.float64)
        if seq.ndim != 3 or seq.shape[0] == 0:
            raise ValueError(f"expected training sequences [N, T, O] with N > 0, got shape {seq.shape}")
        if not np.all(np.isfinite(seq)):
            raise ValueError("training sequences contain NaN or infinite values")
        lo = seq.min(axis=(0, 1))
        hi = seq.max(axis=(0, 1))
        half = (hi - lo) / 2.0
        half = np.where(half < MIN_RANGE, 1.0, half)
        return cls(center=(hi + lo) / 2.0, half_range=half)

    @property
    def dim(self) -> int:
        return int(self.center.shape[0])

    def normalize(self, x: np.ndarray, dims: slice | list[int] | None = None) -> np.ndarray:
        """Map raw values to normalized units; ``dims`` selects a subset of output dimensions."""
        c, h = self._select(dims)
        return (np.asarray(x, dtype=np.float64) - c) / h

    def denormalize(self, x: np.ndarray, dims: slice | list[int] | None = None) -> np.ndarray:
        """Map normalized values back to raw units (radians, metres)."""
        c, h = self._select(dims)
        return np.asarray(x, dtype=np.float64) * h + c

    def _select(self, dims: slice | list[int] | None) -> tuple[np.ndarray, np.ndarray]:
        if dims is None:
            return self.center, self.half_range
        return self.center[dims], self.half_range[dims]

    def to_dict(self) -> dict[str, list[float]]:
        """Plain lists, so the checkpoint stays loadable with ``weights_only=True``."""
        return {"center": self.center.tolist(), "half_range": self.half_range.tolist()}

    @classmethod
    def from_dict(cls, data: dict) -> Normalizer:
        center = np.asarray(data["center"], dtype=np.float64)
        half = np.asarray(data["half_range"], dtype=np.float64)
        if center.shape != half.shape or center.ndim != 1:
            raise ValueError(f"normalization center {center.shape} and half_range {half.shape} disagree")
        if np.any(half <= 0) or not np.all(np.isfinite(center)) or not np.all(np.isfinite(half)):
            raise ValueError("normalization half_range must be positive and finite")
        return cls(center=center, half_range=half)
