"""The paper's evaluation: reconstruct unseen sequences from their first-step perception alone.

For each test sample, the block's (x, y) at t = 1 is the only observation; inference finds the
coordinates (Eq. 2) with a fixed step budget and the model generates all T steps. The error of a
sample is the paper's Eq. (1) term, (1/T) sum_t ||x^t - x_hat^t||^2, in normalized units (every output
dimension scaled to [-1, 1] over the training set), averaged per behaviour. The paper does not state
its scale; ``per_element`` additionally divides by O for readers who prefer a plain mean squared error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from latent_nodes.config import InferenceConfig, ModelConfig
from latent_nodes.inference.search import infer_latent
from latent_nodes.model.latent_model import LatentModel
from latent_nodes.model.normalization import Normalizer
from latent_nodes.model.training import reconstruction_error


def first_step_mask(cfg: ModelConfig) -> torch.Tensor:
    """[T, O] mask of the paper's observation: the perception dimensions at the first step only."""
    mask = torch.zeros(cfg.seq_len, cfg.output_dim, dtype=torch.bool)
    mask[0, list(cfg.perception_dims)] = True
    return mask


def prefix_mask(cfg: ModelConfig, observed_steps: int = 0) -> torch.Tensor:
    """[T, O] mask of a longer observation: the block at the first step and every output of the first k steps.

    ``observed_steps = 0`` is the paper's first-step perception (``first_step_mask``); k >= 1 adds the
    joint angles (and block) of steps 0..k-1, what a robot has seen once it started the behaviour.
    """
    if not 0 <= observed_steps < cfg.seq_len:
        raise ValueError(f"observed_steps must be in [0, {cfg.seq_len - 1}] (T = {cfg.seq_len}), got {observed_steps}")
    mask = first_step_mask(cfg)
    mask[:observed_steps] = True
    return mask


def with_observed(pred: np.ndarray | torch.Tensor, truth: np.ndarray | torch.Tensor,
                  mask: np.ndarray | torch.Tensor):
    """``pred`` with the observed entries (``mask`` [T, O]) taken from ``truth``: a completion continues its prefix.

    Applied alike to the latent model and every reference in the prefix columns, so that none is scored on
    reproducing what it was given.
    """
    if isinstance(pred, torch.Tensor):
        return torch.where(torch.as_tensor(mask, device=pred.device), torch.as_tensor(truth, device=pred.device), pred)
    return np.where(np.asarray(mask, dtype=bool), np.asarray(truth), np.asarray(pred))


@dataclass
class Reconstruction:
    """Completed test sequences and their errors (normalized units)."""

    sequences: np.ndarray  # [N, T, O]
    coords: np.ndarray  # [N, D]
    errors: np.ndarray  # [N]: (1/T) sum_t ||x - x_hat||^2
    labels: np.ndarray  # [N]

    def per_behaviour(self, names: list[str] | tuple[str, ...]) -> dict[str, float]:
        """Mean error per behaviour name (behaviours without samples are left out)."""
        return {name: float(self.errors[self.labels == p].mean())
                for p, name in enumerate(names) if np.any(self.labels == p)}


def reconstruct_from_first_step(model: LatentModel, sequences: np.ndarray, labels: np.ndarray,
                                cfg: InferenceConfig, chunk: int = 64) -> Reconstruction:
    """Infer every sample from its first-step perception and compare the completion with the truth."""
    return reconstruct_from_prefix(model, sequences, labels, cfg, observed_steps=0, chunk=chunk)


def reconstruct_from_prefix(model: LatentModel, sequences: np.ndarray, labels: np.ndarray, cfg: InferenceConfig,
                            observed_steps: int = 0, chunk: int = 64) -> Reconstruction:
    """Infer every sample from ``prefix_mask(observed_steps)`` (Eq. 2 with that mask) and score the completion.

    With ``observed_steps >= 1`` the observed entries are written into the completion (``with_observed``)
    before the error is taken, as for the references; 0 is the paper's protocol, unchanged.
    """
    x = torch.as_tensor(np.asarray(sequences), dtype=torch.float32, device=model.coords.device)
    lab = torch.as_tensor(np.asarray(labels), dtype=torch.long, device=x.device)
    mask = prefix_mask(model.cfg, observed_steps).to(x.device)
    outs, coords = [], []
    for s in range(0, x.shape[0], chunk):  # queries are batched; chunks only bound memory
        res = infer_latent(model, lab[s:s + chunk], x[s:s + chunk], mask.expand(len(lab[s:s + chunk]), -1, -1), cfg)
        outs.append(res.sequence)
        coords.append(res.coords)
    pred = torch.cat(outs)
    if observed_steps:
        pred = with_observed(pred, x, mask)
    errors = reconstruction_error(pred, x)
    return Reconstruction(sequences=pred.cpu().numpy(), coords=torch.cat(coords).cpu().numpy(),
                          errors=errors.cpu().numpy(), labels=lab.cpu().numpy())


def test_split_errors(model: LatentModel, normalizer: Normalizer, dataset, cfg: InferenceConfig) -> dict[str, float]:
    """Per-behaviour error on the dataset's unseen test samples, the paper's protocol; {} without any."""
    test = dataset.test()
    if len(test.labels) == 0:
        return {}
    model.eval()
    rec = reconstruct_from_first_step(model, normalizer.normalize(test.sequences), test.labels, cfg)
    return rec.per_behaviour(list(dataset.behaviour_names))
