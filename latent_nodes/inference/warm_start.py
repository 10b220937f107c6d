"""A warm start for one-glimpse inference: the block position predicts the local coordinates xi.

A conformal chart lays the training samples' xi out like their block positions (the paper's Fig. 4), so
a small polynomial least-squares map from the block's (x, y) to xi, fitted per behaviour on the training
samples, lands close to the answer of Eq. (2). A few Gauss-Newton steps from that single start then
reach what the multi-start search finds (on the shipped model: the joints agree to 3e-7 rad after two
steps, docs/online.md), without rolling out every training sample to pick starts and without eight
starts times the full step budget. Where the few steps do not converge (a position the map does not
cover, a model whose chart is not smooth), the caller falls back to the multi-start search.

The map is fitted from a ``Checkpoint`` when a model is loaded (a few least-squares solves of 25 x 10,
milliseconds), so every model file that records its training block positions gets one, old ones included.
It is fitted in normalized units (the perception dimensions scaled by the model's ``Normalizer``), so
its inputs are the observation that inference already holds.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from latent_nodes.config import InferenceConfig
from latent_nodes.inference.search import InferenceResult, infer_latent
from latent_nodes.model.checkpoint import Checkpoint
from latent_nodes.model.latent_model import LatentModel

MAX_DEGREE = 3  # cubic: leave-one-out error 0.003 on the shipped model's xi (affine 0.025-0.031), docs/online.md
STEPS = 3  # Gauss-Newton steps from the map's prediction: two reach float32 precision, one more for margin
# Squared first-step perception error (normalized units) below which the warm start counts as converged:
# a residual of 1e-4 normalized units, about 12 micrometres on the table. The multi-start search ends near
# 1e-14 on the shipped model; the warm start after STEPS steps near 1e-13.
CONVERGED = 1e-8


def polynomial_features(xy: np.ndarray, degree: int) -> np.ndarray:
    """[N, F] monomials x^a y^b with a + b <= degree, constant first (F = (degree + 1)(degree + 2) / 2)."""
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    cols = [xy[:, 0] ** (d - i) * xy[:, 1] ** i for d in range(degree + 1) for i in range(d + 1)]
    return np.stack(cols, axis=1)


def _loo_rms(features: np.ndarray, targets: np.ndarray) -> float:
    """Leave-one-out RMS residual of a least-squares fit, in closed form (residual / (1 - leverage))."""
    hat = features @ np.linalg.pinv(features)
    residual = targets - hat @ targets
    leverage = np.clip(np.diag(hat), None, 1.0 - 1e-9)
    return float(np.sqrt(np.mean((residual / (1.0 - leverage)[:, None]) ** 2)))


@dataclass(frozen=True)
class WarmStart:
    """Per behaviour, coefficients of a polynomial map from normalized block (x, y) to xi (or z)."""

    degrees: tuple[int, ...]  # per behaviour, chosen by leave-one-out error
    coefficients: tuple[np.ndarray, ...]  # per behaviour [F, D]
    loo_rms: tuple[float, ...]  # per behaviour, leave-one-out RMS error of the map (coordinate units)

    def predict(self, xy_norm: np.ndarray, pattern: int | np.ndarray) -> np.ndarray:
        """[B, D] predicted coordinates for normalized block positions [B, 2] (or [2]) and behaviours."""
        xy = np.asarray(xy_norm, dtype=np.float64).reshape(-1, 2)
        pat = np.broadcast_to(np.asarray(pattern, dtype=np.int64).reshape(-1), (xy.shape[0],))
        out = np.empty((xy.shape[0], self.coefficients[0].shape[1]))
        for p in np.unique(pat):  # at most one solve per behaviour present in the batch
            rows = pat == p
            out[rows] = polynomial_features(xy[rows], self.degrees[p]) @ self.coefficients[p]
        return out

    def infer(self, model: LatentModel, pattern: int | torch.Tensor, xy_norm: np.ndarray,
              observation: torch.Tensor, mask: torch.Tensor, cfg: InferenceConfig) -> InferenceResult | None:
        """``infer_latent`` from the map's prediction alone with ``STEPS`` steps; None unless every query converged.

        ``xy_norm`` [B, 2] are the queries' block positions in normalized units; ``observation``/``mask``
        and ``cfg`` are what the multi-start search would get (its ``steps`` and ``n_starts`` are ignored).
        """
        pat = torch.as_tensor(pattern, dtype=torch.long).reshape(-1).cpu()
        starts = torch.as_tensor(self.predict(xy_norm, pat.numpy()), dtype=torch.float32,
                                 device=model.coords.device).unsqueeze(1)
        result = infer_latent(model, pat.to(starts.device), observation, mask,
                              dataclasses.replace(cfg, steps=STEPS), starts=starts)
        return result if bool((result.error <= CONVERGED).all()) else None


def fit_warm_start(ckpt: Checkpoint, max_degree: int = MAX_DEGREE) -> WarmStart | None:
    """Fit the map on the checkpoint's training samples; None if it does not record their block positions.

    Per behaviour, the degree (1 to ``max_degree``) with the lowest leave-one-out error is kept, among
    those with at least two samples per coefficient, so a small training set gets an affine map.
    """
    model = ckpt.model
    if ckpt.sample_block_xy is None or len(ckpt.sample_block_xy) != model.sample_patterns.shape[0]:
        return None
    dims = list(ckpt.config.model.perception_dims)
    xy = ckpt.normalizer.normalize(np.asarray(ckpt.sample_block_xy, dtype=np.float64), dims)
    coords = model.coords.detach().cpu().double().numpy()
    patterns = model.sample_patterns.cpu().numpy()
    degrees, coefficients, errors = [], [], []
    for p in range(int(ckpt.config.model.n_patterns)):
        rows = patterns == p
        candidates = [d for d in range(1, max_degree + 1) if rows.sum() >= 2 * polynomial_features(xy[:1], d).shape[1]]
        if not candidates:
            return None  # too few samples of a behaviour for even an affine map
        scored = [(_loo_rms(polynomial_features(xy[rows], d), coords[rows]), d) for d in candidates]
        loo, degree = min(scored)
        coef, *_ = np.linalg.lstsq(polynomial_features(xy[rows], degree), coords[rows], rcond=None)
        degrees.append(degree)
        coefficients.append(coef)
        errors.append(loo)
    return WarmStart(degrees=tuple(degrees), coefficients=tuple(coefficients), loo_rms=tuple(errors))
