"""The deterministic PVRNN: a multi-timescale recurrent generator whose latent z sets top-down weights.

Following the paper (Sec. IV-A, Fig. 1), every stochastic unit of PV-RNN is removed. What is left is a
stack of leaky-integrator layers, fast at the bottom and slow at the top. At each step the top layer
updates first and every lower layer l-1 then receives the new state of layer l through a top-down
weight matrix that depends linearly on the latent:

    W^l(z) = sum_k M^l_k z_k + B^l                 (M^l: [L, n_{l-1}, n_l],  B^l: [n_{l-1}, n_l])
    u^l_t  = (1 - 1/tau_l) u^l_{t-1} + (1/tau_l) (R^l d^l_{t-1} + W^{l+1}(z) d^{l+1}_t + b^l)
    d^l_t  = tanh(u^l_t),      x_t = W_out d^1_t + b_out

z enters only through W^l(z); the pattern enters only through the learned initial states u^l_0[p].
Because the top layer updates before the lower ones inside a step, z already shapes x_1, which is
what makes inference from the first-step perception possible.

Speed. A training batch is 25 sequences of 20 steps through three small layers, so the cost is the
number of operations, not arithmetic. Two facts cut it. No layer feeds the one above, so the layers can
run one after the other, top first, each over all its steps: the top-down drive W^{l+1}(z) d^{l+1}_t of
a layer is then one batched product for all steps, and its step is one matrix product with shared
weights, an add and a tanh. And the rollout has its own backward (``_Rollout``): the adjoint
recurrence in plain tensor operations, layer by layer, with every weight's gradient formed once over
all steps instead of step by step on the autograd graph. ``reference_forward`` is the same model written
step by step with autograd, as the equations read; the tests hold the two to float64 rounding in value
and gradient, and ``benchmarks/training_speed.py`` times one against the other.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

from latent_nodes.config import ModelConfig


class PVRNN(nn.Module):
    """Deterministic PVRNN; ``forward(z[B, L], pattern[B]) -> x[B, T, O]``."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        sizes = [int(n) for n in cfg.layer_sizes]
        taus = [float(t) for t in cfg.time_constants]
        if len(sizes) != len(taus) or not sizes:
            raise ValueError(f"layer_sizes {sizes} and time_constants {taus} must be non-empty and of equal length")
        if any(t < 1.0 for t in taus):
            raise ValueError(f"time constants must be >= 1 (a leaky integrator), got {taus}")
        self.sizes = sizes
        self.latent_dim = int(cfg.latent_dim)
        self.seq_len = int(cfg.seq_len)
        self.rates = [1.0 / t for t in taus]  # 1/tau_l, the share of the new drive in each step

        # Recurrence within each layer (its bias is the layer's only bias).
        self.recurrent = nn.ModuleList(nn.Linear(n, n) for n in sizes)
        # Top-down from layer l (upper) into l-1 (lower): M^l stored flat as [L * n_lower, n_upper]; row
        # k * n_lower + i of it is row i of M^l_k.
        self.topdown_M = nn.ParameterList()
        self.topdown_B = nn.ParameterList()
        for lower, upper in zip(sizes[:-1], sizes[1:]):
            bound = 1.0 / math.sqrt(upper)
            # M is scaled down by sqrt(L) so that, for z of unit scale, W(z) starts near B's magnitude.
            self.topdown_M.append(nn.Parameter(torch.empty(self.latent_dim * lower, upper).uniform_(-bound, bound)
                                               / math.sqrt(self.latent_dim)))
            self.topdown_B.append(nn.Parameter(torch.empty(lower, upper).uniform_(-bound, bound)))
        # Learned initial internal states, one set per pattern (shared by all samples of that pattern).
        self.initial_state = nn.Parameter(0.1 * torch.randn(int(cfg.n_patterns), sum(sizes)))
        self.readout = nn.Linear(sizes[0], int(cfg.output_dim))

    def topdown_weights(self, level: int, z: torch.Tensor) -> torch.Tensor:
        """sum_k z_k M^{level+1}_k per sample, [B, n_level, n_level+1]: W(z) without B, or W's derivative along z."""
        lower, upper = self.sizes[level], self.sizes[level + 1]
        m = self.topdown_M[level].view(self.latent_dim, lower * upper)
        return (z @ m).view(-1, lower, upper)

    def layer_weights(self, z: torch.Tensor, z_dot: torch.Tensor | None = None) -> _LayerWeights:
        """The drive of every layer with 1/tau folded in: recurrent and bias shared, top-down per sample."""
        rec = [rate * lin.weight.T for rate, lin in zip(self.rates, self.recurrent)]
        bias = [rate * lin.bias for rate, lin in zip(self.rates, self.recurrent)]
        rates = self.rates[:-1]
        down = [rate * (self.topdown_weights(level, z) + b).transpose(1, 2)
                for level, (rate, b) in enumerate(zip(rates, self.topdown_B))]
        down_dot = ([rate * self.topdown_weights(level, z_dot).transpose(1, 2) for level, rate in enumerate(rates)]
                    if z_dot is not None else [])
        return _LayerWeights(rec, bias, down, down_dot)

    def forward(self, z: torch.Tensor, pattern: torch.Tensor, steps: int | None = None,
                z_dot: torch.Tensor | None = None) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Generate ``steps`` (default T) outputs x [B, steps, O] for latents z [B, L] and patterns [B].

        Given a tangent ``z_dot`` [B, L] it returns (x, x_dot) with x_dot = (dx/dz) z_dot, an exact
        forward-mode Jacobian-vector product carried alongside the primal at about twice the cost of
        a plain forward. Inference needs these every step; ``torch.func.jvp`` gives the same numbers
        (the tests check it) but with ten times the per-operation overhead on these small tensors.
        """
        steps = self.seq_len if steps is None else int(steps)
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must be [B, {self.latent_dim}], got {tuple(z.shape)}")
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        w = self.layer_weights(z, z_dot)
        u0 = self.initial_state[pattern]
        keep = [1.0 - r for r in self.rates]
        if z_dot is None:
            return self.readout(_Rollout.apply(u0, self.sizes, keep, steps, *w.rec, *w.bias, *w.down))
        states, states_dot = _rollout_with_tangent(u0, self.sizes, keep, steps, w)
        return self.readout(states), states_dot @ self.readout.weight.T

    def reference_forward(self, z: torch.Tensor, pattern: torch.Tensor, steps: int | None = None) -> torch.Tensor:
        """The same map as ``forward``, step by step as the equations read, differentiated by autograd.

        Slow (many small operations per step); kept as the specification that ``forward`` is tested
        against and as the baseline of ``benchmarks/training_speed.py``.
        """
        steps = self.seq_len if steps is None else int(steps)
        b, top = z.shape[0], len(self.sizes) - 1
        u = list(torch.split(self.initial_state[pattern], self.sizes, dim=1))
        d = [torch.tanh(ul) for ul in u]
        outputs = []
        for _ in range(steps):
            new_d: list[torch.Tensor] = [None] * len(self.sizes)  # type: ignore[list-item]
            for level in range(top, -1, -1):
                drive = self.recurrent[level](d[level])
                if level < top:
                    lower = self.sizes[level]
                    md = (new_d[level + 1] @ self.topdown_M[level].T).view(b, self.latent_dim, lower)
                    drive = drive + new_d[level + 1] @ self.topdown_B[level].T + torch.einsum("bk,bki->bi", z, md)
                a = self.rates[level]
                u[level] = (1 - a) * u[level] + a * drive
                new_d[level] = torch.tanh(u[level])
            d = new_d
            outputs.append(self.readout(d[0]))
        return torch.stack(outputs, dim=1)


class _LayerWeights(NamedTuple):
    """Per layer l (bottom first), with 1/tau_l folded in, as right-hand factors of row vectors."""

    rec: list[torch.Tensor]  # (1/tau) R^T [n_l, n_l]
    bias: list[torch.Tensor]  # (1/tau) b [n_l]
    down: list[torch.Tensor]  # lower layers only: (1/tau) W^{l+1}(z)^T [B, n_{l+1}, n_l]
    down_dot: list[torch.Tensor]  # with a tangent: (1/tau) (sum_k z_dot_k M^{l+1}_k)^T [B, n_{l+1}, n_l]


class _Rollout(torch.autograd.Function):
    """Bottom-layer states d^1_1..d^1_T [B, T, n_1] from initial states and layer weights, with its own backward.

    No layer feeds the one above, so the layers run one after the other, top first, each over all steps:
    a layer's top-down drive at every step is then one batched product with the finished states above,
    and its step is u <- keep * u + drive_t + d (1/tau) R^T, d = tanh(u), shared weights only. The backward
    runs the adjoint recurrence layer by layer, bottom first, and forms every weight's gradient and the
    gradient passed up as one product over all steps. ``torch.func`` transforms (jvp, vmap) do not pass
    through it: forward-mode derivatives come from ``PVRNN.forward(..., z_dot=...)`` (or ``reference_forward``).
    """

    @staticmethod
    def forward(ctx, u0: torch.Tensor, sizes: list[int], keep: list[float], steps: int,
                *weights: torch.Tensor) -> torch.Tensor:
        n = len(sizes)
        rec, bias, down = weights[:n], weights[n:2 * n], weights[2 * n:]
        initial = torch.split(u0, sizes, dim=1)
        states: list[torch.Tensor] = [None] * n  # type: ignore[list-item]
        for level in range(n - 1, -1, -1):
            if level == n - 1:
                drive = [bias[level]] * steps
            else:  # W(z) d^{l+1}_t + b for every step at once
                drive = torch.baddbmm(bias[level], states[level + 1][:, 1:], down[level]).unbind(1)
            u = initial[level]
            history = [torch.tanh(u)]
            for t in range(steps):
                u = torch.addmm(torch.add(drive[t], u, alpha=keep[level]), history[-1], rec[level])
                history.append(torch.tanh(u))
            states[level] = torch.stack(history, dim=1)  # [B, T + 1, n_l]: d_0 .. d_T
        ctx.save_for_backward(*states, *rec, *down)
        ctx.keep = keep
        return states[0][:, 1:].clone()

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):  # noqa: ANN205 (autograd's signature)
        keep = ctx.keep
        n = len(keep)
        saved = ctx.saved_tensors
        states, rec, down = saved[:n], saved[n:2 * n], saved[2 * n:]
        steps = grad_out.shape[1]
        g_rec, g_bias, g_down, g_u0 = [], [], [], []
        g_states = grad_out  # dL/dd_1..d_T of the current layer from outside it [B, T, n_l]
        for level in range(n):
            slope = (1 - states[level] ** 2).unbind(1)  # tanh' at d_0 .. d_T
            outside = g_states.unbind(1)
            rec_t = rec[level].T
            g_drive: list[torch.Tensor] = [None] * steps  # type: ignore[list-item]  # dL/du_t
            g_next = g_d_prev = None  # dL/du_{t+1}, and dL/dd_t through step t + 1's recurrence
            for t in range(steps, 0, -1):
                g_d = outside[t - 1] if g_d_prev is None else outside[t - 1] + g_d_prev
                g = g_d * slope[t]
                if g_next is not None:
                    g = torch.add(g, g_next, alpha=keep[level])
                g_d_prev = g @ rec_t
                g_drive[t - 1] = g_next = g
            g_u0.append(g_d_prev * slope[0] + keep[level] * g_next)
            g_all = torch.stack(g_drive, dim=1)  # [B, T, n_l]
            width = g_all.shape[2]
            previous = states[level][:, :-1].reshape(-1, width)
            g_rec.append(previous.T @ g_all.reshape(-1, width))
            g_bias.append(g_all.sum(dim=(0, 1)))
            if level < n - 1:
                g_down.append(torch.bmm(states[level + 1][:, 1:].transpose(1, 2), g_all))
                g_states = torch.bmm(g_all, down[level].transpose(1, 2))
        return (torch.cat(g_u0, dim=1), None, None, None, *g_rec, *g_bias, *g_down)


def _rollout_with_tangent(u0: torch.Tensor, sizes: list[int], keep: list[float], steps: int,
                          w: _LayerWeights) -> tuple[torch.Tensor, torch.Tensor]:
    """Bottom-layer states and their tangents, [B, T, n_1] each: the forward-mode rule of each step.

    The top-down drive is bilinear in (z, d^{l+1}), so its tangent is d_dot^{l+1} W^T + d^{l+1} W_dot^T;
    initial states do not depend on z, so their tangents start at zero.
    """
    n = len(sizes)
    initial = torch.split(u0, sizes, dim=1)
    above = above_dot = None
    for level in range(n - 1, -1, -1):
        if above is None:
            drive, drive_dot = [w.bias[level]] * steps, [torch.zeros_like(w.bias[level])] * steps
        else:
            drive = torch.baddbmm(w.bias[level], above, w.down[level]).unbind(1)
            drive_dot = torch.baddbmm(torch.bmm(above, w.down_dot[level]), above_dot, w.down[level]).unbind(1)
        u = initial[level]
        u_dot = torch.zeros_like(u)
        d, d_dot = torch.tanh(u), torch.zeros_like(u)
        history, history_dot = [], []
        for t in range(steps):
            u = torch.addmm(torch.add(drive[t], u, alpha=keep[level]), d, w.rec[level])
            u_dot = torch.addmm(torch.add(drive_dot[t], u_dot, alpha=keep[level]), d_dot, w.rec[level])
            d = torch.tanh(u)
            d_dot = (1 - d**2) * u_dot
            history.append(d)
            history_dot.append(d_dot)
        above, above_dot = torch.stack(history, dim=1), torch.stack(history_dot, dim=1)
    return above, above_dot
