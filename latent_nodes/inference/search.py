"""Latent inference: find the coordinates whose generated sequence matches a partial observation.

The paper's Eq. (2) searches z* = argmin ||p^1 - p_hat^1(z)||^2 from the first-step perception alone.
Here the observation is any subset of the sequence, given as values plus a boolean mask over
[time step, output dimension]; the paper's case is the mask that keeps only the block's (x, y) at
t = 1. With an embedding the search runs in the behaviour's local coordinates xi (K dims), without one
directly in z (L dims).

Two facts keep it fast:
- The generator is causal, so only the steps up to the last observed one are rolled out. For the
  paper's mask that is a single step.
- The coordinates are low-dimensional, so a damped Gauss-Newton (Levenberg-Marquardt) step needs the
  residual's Jacobian, which is just D forward-mode Jacobian-vector products, carried through the model
  as one batch (``LatentModel.generate(..., coords_dot=...)``). ``method="adam"`` runs plain gradient
  descent with the same budget instead.

Several starting points run as one batch; each query keeps the start that ends with the lowest error.
Starting points are the learned coordinates of the behaviour's training samples whose reconstructions
best fit the observation (one batched rollout of all of them): a fair, mask-agnostic initialization.

Two implementations of the Gauss-Newton search give the same answers (``InferenceConfig.backend``):
``numpy`` (the default on the CPU) runs it on ``NumpyGenerator``, the generator in float64 NumPy, where
a rollout of one to a few dozen sequences costs a fraction of torch's per-operation overhead; ``torch``
runs it on the float32 model and is the reference the other is tested against. The NumPy path also
skips work whose result is never used: the last trial of the search is rolled out plainly over all T
steps (it is the completion when accepted), not with its Jacobian over the observed steps only, and the
best start's error is the search's own rather than a fresh rollout's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

from latent_nodes.config import InferenceConfig
from latent_nodes.model.latent_model import LatentModel
from latent_nodes.model.numpy_generator import NumpyGenerator


@dataclass
class InferenceResult:
    """Best coordinates per query and what they generate (normalized units)."""

    coords: torch.Tensor  # [B, D]: xi* (or z* without embedding)
    z: torch.Tensor  # [B, L]
    sequence: torch.Tensor  # [B, T, O]: the completed behaviour
    error: torch.Tensor  # [B]: masked squared error summed over dims, averaged over observed steps


def _as_batch(x: torch.Tensor, b: int, name: str, shape: tuple[int, int]) -> torch.Tensor:
    if x.ndim == 2:
        x = x.unsqueeze(0)
    if x.ndim != 3 or tuple(x.shape[1:]) != shape:
        raise ValueError(f"{name} must be [B, T, O] or [T, O] with (T, O) = {shape}, got {tuple(x.shape)}")
    return x.expand(b, -1, -1) if x.shape[0] == 1 else x


def masked_error(pred: torch.Tensor, obs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Sum of squared masked residuals divided by the number of observed steps, per sample."""
    sq = ((pred - obs) * mask) ** 2
    steps = mask.any(dim=-1).sum(dim=-1).clamp(min=1)
    return sq.sum(dim=(1, 2)) / steps


@torch.no_grad()
def select_starts(model: LatentModel, pattern: torch.Tensor, obs: torch.Tensor, mask: torch.Tensor,
                  horizon: int, n_starts: int) -> torch.Tensor:
    """[B, S, D] starting coordinates: the training samples of each query's behaviour that fit it best."""
    starts = []
    for b in range(pattern.shape[0]):  # B is the number of queries (usually 1); samples are batched
        cand = model.pattern_coords(int(pattern[b]))
        if cand.shape[0] == 0:
            raise ValueError(f"the model has no training samples of behaviour index {int(pattern[b])}")
        pat = pattern[b].expand(cand.shape[0])
        err = masked_error(model.generate(cand, pat, horizon), obs[b:b + 1, :horizon], mask[b:b + 1, :horizon])
        best = torch.argsort(err)[: min(n_starts, cand.shape[0])]
        starts.append(cand[best])
    s = min(x.shape[0] for x in starts)
    return torch.stack([x[:s] for x in starts])


def infer_latent(model: LatentModel, pattern: int | torch.Tensor, observation: torch.Tensor,
                 mask: torch.Tensor, cfg: InferenceConfig | None = None,
                 starts: torch.Tensor | None = None) -> InferenceResult:
    """Minimize the masked squared error over coordinates, within ``cfg.steps`` steps, for B queries.

    ``observation`` and ``mask`` are [B, T, O] (or [T, O] for one query), normalized units; ``pattern`` is
    an int or [B] behaviour indices; ``starts`` optionally gives [B, S, D] or [S, D] starting points.
    Gauss-Newton on a CPU model runs on the NumPy generator unless ``cfg.backend`` is ``torch`` (the
    reference); either way the result holds float32 tensors.
    """
    cfg = cfg or InferenceConfig()
    if cfg.backend not in ("numpy", "torch"):
        raise ValueError(f"unknown inference backend {cfg.backend!r}")
    mc = model.cfg
    device = model.coords.device
    pattern = torch.as_tensor(pattern, dtype=torch.long, device=device).reshape(-1)
    b = max(pattern.shape[0], observation.shape[0] if observation.ndim == 3 else 1)
    pattern = pattern.expand(b) if pattern.shape[0] == 1 else pattern
    obs = _as_batch(torch.as_tensor(observation, dtype=torch.float32, device=device), b, "observation",
                    (mc.seq_len, mc.output_dim))
    msk = _as_batch(torch.as_tensor(mask, device=device), b, "mask", (mc.seq_len, mc.output_dim)).to(obs.dtype)
    if pattern.shape[0] != b:
        raise ValueError(f"{pattern.shape[0]} patterns for {b} observations")
    if int(pattern.min()) < 0 or int(pattern.max()) >= mc.n_patterns:
        raise ValueError(f"behaviour index out of range [0, {mc.n_patterns}): {pattern.tolist()}")
    observed_steps = msk.any(dim=-1).any(dim=0).nonzero()
    if observed_steps.numel() == 0:
        raise ValueError("the mask observes nothing: at least one value is needed to infer the latent")
    if not torch.isfinite(obs[msk.bool()]).all():
        raise ValueError("the observed values contain NaN or infinity")
    horizon = int(observed_steps.max()) + 1  # the generator is causal: later steps cannot matter
    obs = torch.nan_to_num(obs) * msk  # unobserved entries may hold anything, NaN included

    if cfg.method == "gauss-newton" and cfg.backend == "numpy" and device.type == "cpu":
        if isinstance(starts, torch.Tensor):
            starts = starts.detach().cpu().numpy()
        return infer_latent_numpy(NumpyGenerator.of(model), pattern.cpu().numpy(), obs.cpu().double().numpy(),
                                  msk.cpu().double().numpy(), cfg, starts).as_result()
    if starts is None:
        starts = select_starts(model, pattern, obs, msk, horizon, int(cfg.n_starts))
    starts = torch.as_tensor(starts, dtype=torch.float32, device=device)
    if starts.ndim == 2:
        starts = starts.unsqueeze(0).expand(b, -1, -1)
    s, d = starts.shape[1], starts.shape[2]
    if d != model.coord_dim:
        raise ValueError(f"starting points have {d} dims, the model searches {model.coord_dim}")

    # Flatten queries x starts into one batch.
    q0 = starts.reshape(b * s, d).detach()
    pat = pattern.repeat_interleave(s)
    obs_h = obs[:, :horizon].repeat_interleave(s, dim=0)
    msk_h = msk[:, :horizon].repeat_interleave(s, dim=0)

    with torch.no_grad():
        if cfg.method == "gauss-newton":
            q = _gauss_newton(model, q0, pat, obs_h, msk_h, horizon, int(cfg.steps), float(cfg.damping))
        elif cfg.method == "adam":
            q = _adam(model, q0, pat, obs_h, msk_h, horizon, int(cfg.steps), float(cfg.lr))
        else:
            raise ValueError(f"unknown inference method {cfg.method!r}")
        err = masked_error(model.generate(q, pat, horizon), obs_h, msk_h).view(b, s)
        best = err.argmin(dim=1)
        coords = q.view(b, s, d)[torch.arange(b, device=device), best]
        z = model.to_latent(coords, pattern)
        sequence = model.pvrnn(z, pattern)
        error = masked_error(sequence, obs, msk)
    return InferenceResult(coords=coords, z=z, sequence=sequence, error=error)


def _gauss_newton(model: LatentModel, q: torch.Tensor, pat: torch.Tensor, obs: torch.Tensor,
                  msk: torch.Tensor, horizon: int, steps: int, damping: float) -> torch.Tensor:
    """Levenberg-Marquardt on the masked residual; each step is one batched JVP over the D directions."""
    n, d = q.shape
    eye = torch.eye(d, device=q.device)
    tangents = eye.repeat_interleave(n, dim=0)  # [D * n, D]: direction j for every sample
    pat_rep, msk_rep = pat.repeat(d), msk.repeat(d, 1, 1)

    def linearize(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Residual [n, R] at x and its Jacobian [n, R, D]: D JVPs, one per coordinate, in one batch."""
        pred, jp = model.generate(x.repeat(d, 1), pat_rep, horizon, coords_dot=tangents)
        r = ((pred[:n] - obs) * msk).reshape(n, -1)
        jac = (jp * msk_rep).reshape(d, n, -1).permute(1, 2, 0)
        return r, jac

    lam = torch.full((n,), damping, device=q.device)
    r, jac = linearize(q)
    err = (r ** 2).sum(dim=1)
    for _ in range(steps):
        jtj = jac.transpose(1, 2) @ jac
        jtr = (jac.transpose(1, 2) @ r.unsqueeze(-1)).squeeze(-1)
        # Marquardt scaling by diag(J^T J), plus a floor so directions the data cannot see stay put.
        diag = torch.diagonal(jtj, dim1=1, dim2=2)
        a = jtj + torch.diag_embed(lam.unsqueeze(-1) * diag + 1e-9 + 1e-6 * diag.mean(dim=1, keepdim=True))
        trial = q - torch.linalg.solve(a, jtr)
        r_new, jac_new = linearize(trial)
        err_new = (r_new ** 2).sum(dim=1)
        ok = err_new < err
        q = torch.where(ok.unsqueeze(-1), trial, q)
        r = torch.where(ok.unsqueeze(-1), r_new, r)
        jac = torch.where(ok.view(-1, 1, 1), jac_new, jac)
        err = torch.where(ok, err_new, err)
        lam = torch.where(ok, lam / 3.0, lam * 10.0).clamp(1e-9, 1e9)
    return q


def _adam(model: LatentModel, q: torch.Tensor, pat: torch.Tensor, obs: torch.Tensor, msk: torch.Tensor,
          horizon: int, steps: int, lr: float) -> torch.Tensor:
    """Gradient descent with Adam on the summed masked error, the usual way latents are inferred."""
    q = q.clone().requires_grad_(True)
    opt = torch.optim.Adam([q], lr=lr)
    with torch.enable_grad():
        for _ in range(steps):
            loss = masked_error(model.generate(q, pat, horizon), obs, msk).sum()
            # Gradient with respect to q only: the model's own .grad buffers stay untouched.
            (q.grad,) = torch.autograd.grad(loss, q)
            opt.step()
    return q.detach()


# --- the same search on the float64 NumPy generator ---------------------------------------------------------


def _masked_error_np(pred: np.ndarray, obs: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``masked_error`` in NumPy: squared masked residuals per sample, over the number of observed steps."""
    steps = np.maximum(mask.any(axis=-1).sum(axis=-1), 1)
    return (((pred - obs) * mask) ** 2).sum(axis=(1, 2)) / steps


def select_starts_numpy(gen: NumpyGenerator, pattern: np.ndarray, obs: np.ndarray, mask: np.ndarray,
                        horizon: int, n_starts: int) -> np.ndarray:
    """``select_starts`` on the NumPy generator: [B, S, D], every query's candidates in one rollout."""
    cands = [gen.pattern_coords(int(p)) for p in pattern]
    for p, c in zip(pattern, cands):
        if c.shape[0] == 0:
            raise ValueError(f"the model has no training samples of behaviour index {int(p)}")
    owner = np.repeat(np.arange(len(cands)), [c.shape[0] for c in cands])
    x = gen.generate(np.concatenate(cands), pattern[owner], horizon)
    err = _masked_error_np(x, obs[owner, :horizon], mask[owner, :horizon])
    s = min(min(n_starts, c.shape[0]) for c in cands)
    picks, first = [], 0
    for c in cands:
        best = np.argsort(err[first:first + c.shape[0]], kind="stable")[:s]
        picks.append(c[best])
        first += c.shape[0]
    return np.stack(picks)


class InferenceArrays(NamedTuple):
    """``InferenceResult`` as float64 NumPy arrays, what the NumPy path computes."""

    coords: np.ndarray  # [B, D]
    z: np.ndarray  # [B, L]
    sequence: np.ndarray  # [B, T, O]
    error: np.ndarray  # [B]

    def as_result(self) -> InferenceResult:
        """The same as float32 tensors, the type ``infer_latent`` returns on either path."""
        def tensor(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))

        return InferenceResult(*(tensor(a) for a in self))


def infer_latent_numpy(gen: NumpyGenerator, pattern: np.ndarray, obs: np.ndarray, mask: np.ndarray,
                       cfg: InferenceConfig, starts: np.ndarray | None = None) -> InferenceArrays:
    """Gauss-Newton on the NumPy generator, for inputs that ``infer_latent`` has checked or that are valid by
    construction (the online estimator's).

    ``pattern`` [B] behaviour indices; ``obs`` [B, T, O] finite (unobserved entries are ignored); ``mask``
    [B, T, O] of 0/1 or booleans, observing something; ``starts`` [B, S, D], [S, D] or None (selected).
    """
    pattern = np.asarray(pattern, dtype=np.int64).reshape(-1)
    observed = np.nonzero(mask.any(axis=(0, 2)))[0]
    horizon = int(observed[-1]) + 1  # the generator is causal: later steps cannot matter
    b = pattern.shape[0]
    if starts is None:
        q0 = select_starts_numpy(gen, pattern, obs, mask, horizon, int(cfg.n_starts))
    else:
        q0 = np.asarray(starts, dtype=np.float64)
    if q0.ndim == 2:
        q0 = np.broadcast_to(q0, (b, *q0.shape))
    s, d = q0.shape[1], q0.shape[2]
    if d != gen.coord_dim:
        raise ValueError(f"starting points have {d} dims, the model searches {gen.coord_dim}")
    q, err, full, accepted = _gauss_newton_numpy(
        gen, q0.reshape(b * s, d), np.repeat(pattern, s), np.repeat(obs[:, :horizon], s, axis=0),
        np.repeat(mask[:, :horizon], s, axis=0), horizon, int(cfg.steps), float(cfg.damping))
    best = np.arange(b) * s + err.reshape(b, s).argmin(axis=1)
    coords = q[best]
    sequence = full[best] if full is not None else np.empty((b, gen.seq_len, obs.shape[2]))
    missing = ~accepted[best]
    if missing.any():  # the last trial was rejected (or there was none): generate from the kept coordinates
        sequence[missing] = gen.generate(coords[missing], pattern[missing])
    return InferenceArrays(coords, gen.to_latent(coords, pattern), sequence, _masked_error_np(sequence, obs, mask))


def _gauss_newton_numpy(gen: NumpyGenerator, q: np.ndarray, pat: np.ndarray, obs: np.ndarray, msk: np.ndarray,
                        horizon: int, steps: int, damping: float
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """``_gauss_newton`` on the NumPy generator.

    Returns the coordinates, their errors, the last trial's whole sequences [n, T, O] (None without steps)
    and where that trial was accepted (there they are the returned coordinates' sequences).
    """
    n, d = q.shape

    def residual(x: np.ndarray) -> np.ndarray:
        return ((x - obs) * msk).reshape(n, -1)

    x, jac = gen.generate(q, pat, horizon, jacobian=True)
    r, jac = residual(x), (jac * msk[..., None]).reshape(n, -1, d)
    err = (r * r).sum(axis=1)
    lam = np.full(n, damping)
    full, accepted = None, np.zeros(n, dtype=bool)
    for i in range(steps):
        jt = jac.transpose(0, 2, 1)
        jtj, jtr = jt @ jac, (jt @ r[:, :, None])[:, :, 0]
        # Marquardt scaling by diag(J^T J), plus a floor so directions the data cannot see stay put.
        diag = np.diagonal(jtj, axis1=1, axis2=2)
        a = jtj + (lam[:, None] * diag + 1e-9 + 1e-6 * diag.mean(axis=1, keepdims=True))[:, :, None] * np.eye(d)
        trial = q - np.linalg.solve(a, jtr[..., None])[..., 0]
        last = i == steps - 1
        if last:  # its Jacobian would never be used: roll it out plainly, over all steps
            sequence = gen.generate(trial, pat)
            r_new = residual(sequence[:, :horizon])
        else:
            x_new, jac_new = gen.generate(trial, pat, horizon, jacobian=True)
            r_new = residual(x_new)
        err_new = (r_new * r_new).sum(axis=1)
        ok = err_new < err
        q = np.where(ok[:, None], trial, q)
        err = np.where(ok, err_new, err)
        if last:
            full, accepted = sequence, ok
        else:
            r = np.where(ok[:, None], r_new, r)
            jac = np.where(ok[:, None, None], (jac_new * msk[..., None]).reshape(n, -1, d), jac)
            lam = np.clip(np.where(ok, lam / 3.0, lam * 10.0), 1e-9, 1e9)
    return q, err, full, accepted
