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


def tiny_checkpoint(joint_names, lower=None, upper=None, home=None, epochs: int = 150):
    """A small model trained for seconds on the synthetic behaviours, in raw units (a ``Checkpoint``).

    Block positions become metres on the table; joints are the synthetic values in radians or, given
    ``lower``/``upper``/``home``, motions of a tenth of each joint's range around home inside the limits.
    """
    from latent_nodes.config import Config
    from latent_nodes.inference.domain import Domain
    from latent_nodes.model.checkpoint import Checkpoint
    from latent_nodes.model.normalization import Normalizer
    from latent_nodes.model.training import Trainer

    seqs, labels, _ = dataset(n_side=4)
    raw = seqs.astype(np.float64).copy()
    if lower is not None:
        lower, upper = np.asarray(lower, dtype=np.float64), np.asarray(upper, dtype=np.float64)
        home = np.clip(np.asarray(home, dtype=np.float64), lower, upper)
        raw[..., :9] = np.clip(home + 0.1 * (upper - lower) * raw[..., :9], lower, upper)
    raw[..., 9] = 0.475 + 0.15 * raw[..., 9]
    raw[..., 10] = 0.25 * raw[..., 10]
    norm = Normalizer.fit(raw)
    cfg = Config()
    cfg.model.layer_sizes = [32, 16, 8]
    cfg.train.batch_size = 32
    cfg.train.lr = 1e-2
    trainer = Trainer(cfg, norm.normalize(raw).astype(np.float32), labels)
    trainer.fit(epochs)
    block_xy = raw[:, 0, 9:]
    domain = Domain.from_samples(block_xy, labels, trainer.model.coords.detach().numpy())
    return Checkpoint(model=trainer.model, config=cfg, normalizer=norm, behaviour_names=["reach", "reach_circle"],
                      joint_names=list(joint_names), dt=0.1, sample_block_xy=block_xy, domain=domain,
                      train_state=trainer.state_dict())
