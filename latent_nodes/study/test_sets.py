"""Evaluation sets beyond a variant's own test split, measured on the same trained models.

A spec's ``test_sets`` name harder columns of the tables without training anything new: each trained
model (and every reference predictor) is evaluated on them too, and a study that already ran gets them
from its stored models on the next invocation, like a metric hook added later.

- ``positions: test`` (default): the variant's own test samples; with ``observed_steps: k`` the
  completion starts from a longer observation, the block and every output of the first k steps
  (``latent_nodes.evaluation.prefix_mask``): Eq. (2) with that mask for the model, via points for the
  ProMP, the observed values as inputs for the regressors.
- ``positions: random``: ``count`` unseen positions drawn uniformly over the hull of the variant's
  training positions (seeded), not the cells' centres (``sim.demonstrations.hull_positions``).
- ``positions: band``: ``count`` positions between ``inner`` and ``outer`` metres outside that hull:
  extrapolation (``sim.demonstrations.band_positions``).

New positions are demonstrated by the same scripts, perturbation and simulator as the variant
(``sim.demonstrations.generate_samples``, with a sample stream of their own), generated once into the
dataset cache under a key of their settings and the variant's key.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from latent_nodes.study.content_hash import content_hash

POSITIONS = ("test", "random", "band")


@dataclass(frozen=True)
class TestSet:
    """One evaluation column: where its samples come from, how much is observed, which inference methods."""

    name: str
    positions: str = "test"
    count: int = 16
    seed: int = 0
    inner: float = 0.01
    outer: float = 0.03
    observed_steps: int = 0
    inference: tuple[str, ...] = ()  # method names of the spec; filled with all of them when not given

    def sample_settings(self) -> dict | None:
        """What decides the samples (None: the variant's own test split)."""
        if self.positions == "test":
            return None
        out = {"positions": self.positions, "count": self.count, "seed": self.seed}
        if self.positions == "band":
            out.update(inner=self.inner, outer=self.outer)
        return out

    def describe(self) -> str:
        where = {"test": "the variant's test positions",
                 "random": f"{self.count} positions drawn uniformly inside the training hull (seed {self.seed})",
                 "band": f"{self.count} positions {self.inner * 100:g}-{self.outer * 100:g} cm outside the "
                         f"training hull (seed {self.seed})"}[self.positions]
        seen = ("the block at the first step" if self.observed_steps == 0 else
                f"the block and the first {self.observed_steps} step{'s' if self.observed_steps > 1 else ''} "
                "(all outputs, written into every completion)")
        return f"{where}; observed: {seen}"


def samples_key(ts: TestSet, dataset_key: str) -> str | None:
    """Cache key of a test set's generated samples on a variant (None: it uses the variant's test split)."""
    settings = ts.sample_settings()
    return None if settings is None else "ts-" + content_hash({"dataset": dataset_key, **settings})


def evaluation_key(ts: TestSet, dataset_key: str) -> str:
    """What decides a test set's results on a variant: its samples and the observation (not its name)."""
    return content_hash({"dataset": dataset_key, "samples": ts.sample_settings(), "observed_steps": ts.observed_steps})


def training_positions(dataset) -> np.ndarray:
    """[P, 2] the distinct block positions of a dataset's training samples."""
    return np.unique(np.round(dataset.train().block_xy, 9), axis=0)


def generate_test_set(ts: TestSet, dataset, data_cfg: dict, sim_cfg: dict):
    """Positions of ``ts`` around ``dataset``'s training positions, demonstrated in the simulator (a worker task)."""
    from latent_nodes.config import DataConfig, SimConfig
    from latent_nodes.sim.demonstrations import band_positions, generate_samples, hull_positions

    train_xy = training_positions(dataset)
    if ts.positions == "random":
        xy = hull_positions(train_xy, ts.count, ts.seed)
    elif ts.positions == "band":
        xy = band_positions(train_xy, ts.count, ts.inner, ts.outer, ts.seed)
    else:
        raise ValueError(f"test set {ts.name} uses the variant's test split; nothing to generate")
    return generate_samples(xy, DataConfig(**data_cfg), SimConfig(**sim_cfg), seed=ts.seed)


def evaluate(model, normalizer, samples, ts: TestSet, methods: dict[str, dict], behaviours) -> tuple[dict, dict]:
    """One model on one test set: ({"inference": {method: {"config", "errors", "per_sample"}}}, seconds per method)."""
    import time

    from latent_nodes.config import InferenceConfig
    from latent_nodes.evaluation import reconstruct_from_prefix

    names = list(behaviours)
    labels = np.asarray(samples.labels)
    truth = normalizer.normalize(samples.sequences)
    out: dict = {}
    seconds: dict = {}
    for method in ts.inference:
        start = time.perf_counter()
        rec = reconstruct_from_prefix(model, truth, labels, InferenceConfig(**methods[method]), ts.observed_steps)
        out[method] = {"config": methods[method], "errors": rec.per_behaviour(names),
                       "per_sample": {b: [float(e) for e in rec.errors[labels == p]] for p, b in enumerate(names)
                                      if np.any(labels == p)}}
        seconds[method] = time.perf_counter() - start
    return {"inference": out}, seconds


def as_dict(ts: TestSet) -> dict:
    return dataclasses.asdict(ts)
