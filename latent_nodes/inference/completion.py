"""The one deployment call: a block position and a behaviour in, the completed behaviour out.

``BehaviourCompleter.complete(block_xy, behaviour)`` hides the model's internals from whoever runs it
on a robot: it checks the pose, normalizes it with the model's own statistics, runs the paper's
inference (first-step perception -> xi* -> the full sequence) and returns joint angles in radians.
The inference node and the demo both use it.

Every completion says how far it lies from the model's domain (``latent_nodes.inference.domain``): a pose
further than ``domain_margin`` metres outside the trained block positions is refused (``OutOfDomain``)
under the default policy ``refuse``; ``warn`` completes it and sets ``Completion.warning``; ``allow``
completes it silently. The default margin (``DEFAULT_DOMAIN_MARGIN``) comes from measurements in
docs/results.md ("Outside the trained region").
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from latent_nodes.config import DEFAULT_DOMAIN_MARGIN, Config, InferenceConfig, default_model_path
from latent_nodes.inference.domain import ALLOW, POLICIES, REFUSE, DomainReport
from latent_nodes.inference.search import infer_latent
from latent_nodes.inference.warm_start import WarmStart, fit_warm_start
from latent_nodes.model.checkpoint import Checkpoint, load_checkpoint


class InvalidObservation(ValueError):
    """A pose or behaviour the model cannot be asked about; the message says which and why."""


class OutOfDomain(InvalidObservation):
    """A pose further outside the trained block positions than the margin allows (policy ``refuse``)."""


@dataclass
class Completion:
    """A completed behaviour in raw units, with what inference found."""

    behaviour: str
    block_xy: np.ndarray  # [2] metres, table frame
    xi: np.ndarray | None  # [K] local coordinates (None for a model trained without embedding)
    z: np.ndarray  # [L]
    sequence: np.ndarray  # [T, O]: joint angles (rad) then block x, y (m)
    error: float  # squared first-step perception error, normalized units
    latency_s: float
    dt: float
    domain: DomainReport  # distance from the training data (0 inside)
    warning: str | None = None  # set under the ``warn`` policy for a pose outside the domain

    @property
    def joints(self) -> np.ndarray:
        """[T, n_joints] joint angles in radians."""
        return self.sequence[:, : self.sequence.shape[1] - 2]


class Assessment(NamedTuple):
    """A query that passed the checks: position, behaviour index, metres outside the domain, warning."""

    xy: np.ndarray
    pattern: int
    outside: float
    warning: str | None


class BehaviourCompleter:
    """Loads a model once; ``complete`` answers one pose at a time (thread-safe for a single caller)."""

    def __init__(self, ckpt: Checkpoint, inference: InferenceConfig | None = None, device: str = "cpu",
                 out_of_domain: str = REFUSE, domain_margin: float = DEFAULT_DOMAIN_MARGIN) -> None:
        if out_of_domain not in POLICIES:
            raise ValueError(f"out_of_domain = {out_of_domain!r}; expected one of {list(POLICIES)}")
        if not (math.isfinite(domain_margin) and domain_margin >= 0):
            raise ValueError(f"domain_margin = {domain_margin!r}; expected metres >= 0")
        self.ckpt = ckpt
        self.out_of_domain = out_of_domain
        self.domain_margin = float(domain_margin)
        self.model = ckpt.model.to(device).eval()
        self.device = device
        self.inference_cfg = inference or ckpt.config.inference
        self.perception_dims = list(ckpt.config.model.perception_dims)
        for p in self.model.parameters():  # inference never trains the model
            p.requires_grad_(False)

    @classmethod
    def from_checkpoint(cls, path: str | Path | None = None, device: str = "cpu",
                        inference: InferenceConfig | None = None, **policy) -> BehaviourCompleter:
        """Load a model file (None: the shipped default model); raises ``CheckpointError`` if unusable.

        ``policy`` passes ``out_of_domain`` and ``domain_margin`` on to the constructor.
        """
        return cls(load_checkpoint(default_model_path() if path is None else path, device), inference, device,
                   **policy)

    def with_settings(self, inference: InferenceConfig | None = None, **policy) -> BehaviourCompleter:
        """The same loaded model with other search settings or another domain policy."""
        kwargs = {"out_of_domain": self.out_of_domain, "domain_margin": self.domain_margin, **policy}
        return BehaviourCompleter(self.ckpt, inference or self.inference_cfg, self.device, **kwargs)

    @property
    def config(self) -> Config:
        return self.ckpt.config

    @property
    def behaviours(self) -> tuple[str, ...]:
        return tuple(self.ckpt.behaviour_names)

    @property
    def joint_names(self) -> tuple[str, ...]:
        return tuple(self.ckpt.joint_names)

    @property
    def dt(self) -> float:
        return self.ckpt.dt

    def behaviour_index(self, behaviour: str) -> int:
        """The model's index of a behaviour name; ``InvalidObservation`` for a name it does not know."""
        if behaviour not in self.behaviours:
            raise InvalidObservation(f"unknown behaviour {behaviour!r}; this model knows {list(self.behaviours)}")
        return self.behaviours.index(behaviour)

    def check(self, block_xy: Sequence[float], behaviour: str) -> tuple[np.ndarray, int]:
        """Validate a query; returns the position as an array and the behaviour index."""
        pattern = self.behaviour_index(behaviour)
        xy = np.asarray(block_xy, dtype=np.float64).reshape(-1)
        if xy.shape != (2,):
            raise InvalidObservation(f"block position must be (x, y), got {xy.size} values")
        if not np.all(np.isfinite(xy)):
            raise InvalidObservation(f"block position ({xy[0]}, {xy[1]}) is not finite")
        (x0, x1), (y0, y1) = self.config.sim.table_x, self.config.sim.table_y
        if not (x0 <= xy[0] <= x1 and y0 <= xy[1] <= y1):
            raise InvalidObservation(f"block position ({xy[0]:.6g}, {xy[1]:.6g}) m is off the table "
                                     f"(x in [{x0}, {x1}], y in [{y0}, {y1}] in the table frame)")
        return xy, pattern

    def describe_domain(self, behaviour: str) -> str:
        """The trained region of a behaviour in words (for logs and diagnostics)."""
        domain = self.ckpt.domain
        return "unknown (the model file records none)" if domain is None else domain.describe(
            self.behaviour_index(behaviour))

    def nearest_region(self, block_xy: Sequence[float]) -> str:
        """The behaviour whose trained block positions lie nearest the block (the first of equals).

        What a pose is judged against while the behaviour is still to be recognized (``behaviour: auto``):
        behaviours recorded at different positions each keep their own region, so a pose inside any of them
        is inside. The first behaviour for a position that is no (x, y) or a model without a domain record:
        ``assess`` then says what is wrong, or lets it pass.
        """
        xy = np.asarray(block_xy, dtype=np.float64).reshape(-1)
        if self.ckpt.domain is None or len(self.behaviours) == 1 or xy.shape != (2,) or not np.all(np.isfinite(xy)):
            return self.behaviours[0]
        distances = [self.pose_distance(xy, p) for p in range(len(self.behaviours))]
        ranked = [d if np.isfinite(d) else np.inf for d in distances]
        return self.behaviours[int(np.argmin(ranked))]

    def pose_distance(self, xy: np.ndarray, pattern: int) -> float:
        """Metres outside the behaviour's trained block positions (0 inside, NaN if the model has no record)."""
        domain = self.ckpt.domain
        return float("nan") if domain is None else domain.pose_distance(xy, pattern)

    def domain_report(self, xy: np.ndarray | None, coords: np.ndarray, pattern: int,
                      pose_distance: float | None = None) -> DomainReport:
        """Distances of a block position (None: not observed) and inferred coordinates from the domain.

        ``pose_distance``: the block's distance when the caller has it already (a hull distance is a
        least-squares solve; ``complete`` computed it in ``assess``).
        """
        domain = self.ckpt.domain
        if domain is None:
            return DomainReport(pose_distance=float("nan"), chart_distance=float("nan"))
        if pose_distance is None:
            pose_distance = float("nan") if xy is None else domain.pose_distance(xy, pattern)
        return DomainReport(pose_distance=pose_distance, chart_distance=domain.chart_distance(coords, pattern))

    def assess(self, block_xy: Sequence[float], behaviour: str) -> Assessment:
        """``check`` plus the domain policy: ``OutOfDomain`` beyond the margin under ``refuse``."""
        xy, pattern = self.check(block_xy, behaviour)
        outside = self.pose_distance(xy, pattern)
        if self.out_of_domain == ALLOW or not outside > self.domain_margin:  # NaN (no record) passes
            return Assessment(xy, pattern, outside, None)
        reason = (f"block position ({xy[0]:.3f}, {xy[1]:.3f}) m is {outside:.3f} m outside the region "
                  f"{behaviour!r} was trained on ({self.describe_domain(behaviour)}; margin {self.domain_margin:g} m)")
        if self.out_of_domain == REFUSE:
            raise OutOfDomain(reason)
        return Assessment(xy, pattern, outside, reason)
    @cached_property
    def warm_start(self) -> WarmStart | None:
        """Block position -> xi map of the training samples, fitted once (None: the model lacks their positions)."""
        return fit_warm_start(self.ckpt)

    def complete(self, block_xy: Sequence[float], behaviour: str) -> Completion:
        """Infer the behaviour's latent from the block's first-step position and generate all T steps."""
        start = time.perf_counter()
        xy, pattern, outside, warning = self.assess(block_xy, behaviour)
        mc = self.config.model
        obs = torch.zeros(1, mc.seq_len, mc.output_dim)
        mask = torch.zeros(1, mc.seq_len, mc.output_dim, dtype=torch.bool)
        xy_norm = self.ckpt.normalizer.normalize(xy, self.perception_dims)
        obs[0, 0, self.perception_dims] = torch.as_tensor(xy_norm, dtype=torch.float32)
        mask[0, 0, self.perception_dims] = True
        obs, mask = obs.to(self.device), mask.to(self.device)
        result = None
        # The warm start's few steps are Gauss-Newton steps: with adam it would never converge in them.
        cfg = self.inference_cfg
        if cfg.warm_start and cfg.method == "gauss-newton" and self.warm_start is not None:
            result = self.warm_start.infer(self.model, pattern, xy_norm, obs, mask, self.inference_cfg)
        if result is None:
            result = infer_latent(self.model, pattern, obs, mask, self.inference_cfg)
        sequence = self.ckpt.normalizer.denormalize(result.sequence[0].cpu().numpy())
        error = float(result.error[0])
        if not math.isfinite(error) or not np.all(np.isfinite(sequence)):
            raise FloatingPointError(f"inference produced non-finite values for block {xy.tolist()}")
        coords = result.coords[0].cpu().numpy()
        return Completion(
            behaviour=behaviour, block_xy=xy, xi=coords if self.model.uses_embedding else None,
            z=result.z[0].cpu().numpy(), sequence=sequence, error=error,
            latency_s=time.perf_counter() - start, dt=self.dt,
            domain=self.domain_report(xy, coords, pattern, pose_distance=outside), warning=warning)
