"""A small synthetic behaviour set for core tests: sequences that a 2-D block position determines."""

from __future__ import annotations

import numpy as np

T, O = 20, 11


def sequence(xy: np.ndarray, pattern: int) -> np.ndarray:
    """[T, O] normalized-scale sequence: 9 smooth 'joints' driven by xy, then xy itself at every step."""
    t = np.linspace(0.0, 1.0, T)
    out = np.zeros((T, O))
    for j in range(9):
        gain = xy[0] * np.cos(j) + xy[1] * np.sin(j)
        out[:, j] = 0.4 * np.sin(np.pi * t * (1 + pattern)) * gain + 0.1 * j * t * (1 - t) * (1 - 2 * pattern)
    out[:, 9:] = xy
    return out


def dataset(n_side: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sequences [N, T, O], labels [N], block xy [N, 2]) on an n_side x n_side grid, both patterns."""
    g = np.stack(np.meshgrid(np.linspace(-0.8, 0.8, n_side), np.linspace(-0.8, 0.8, n_side)), -1).reshape(-1, 2)
    seqs = np.array([sequence(xy, p) for p in (0, 1) for xy in g], dtype=np.float32)
    labels = np.repeat([0, 1], len(g))
    return seqs, labels, np.concatenate([g, g])
