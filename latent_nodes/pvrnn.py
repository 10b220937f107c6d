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
number of operations, not arithmetic. z is fixed over a sequence, so each layer's whole drive is one
per-sample matrix A_l = (1/tau_l) [R^l; W^{l+1}(z)^T; b^l], built once per rollout: a step of a layer
is then one concatenation, one batched matrix product and one tanh. The rollout has its own backward
(``_Rollout``): it walks the steps back with plain tensor operations and forms each A_l's gradient as
a single product over all steps, instead of the autograd graph's twenty outer products per layer.
``reference_forward`` is the same model written step by step with autograd, as the equations read; the
tests hold the two to float32 rounding and the training-speed benchmark times one against the other.
"""

from __future__ import annotations

import math

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
        """W^{level+1}(z) per sample, [B, n_level, n_level+1]; with B^l = 0 its derivative along z_dot."""
        lower, upper = self.sizes[level], self.sizes[level + 1]
        m = self.topdown_M[level].view(self.latent_dim, lower * upper)
        return (z @ m).view(-1, lower, upper)

    def step_matrices(self, z: torch.Tensor, z_dot: torch.Tensor | None = None
                      ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Per layer, A_l [B, m_l, n_l] such that u_t = (1 - 1/tau) u_{t-1} + [d^l_{t-1}, d^{l+1}_t, 1] A_l.

        The top layer has no input from above (its row vector is [d_{t-1}, 1]). Given a tangent z_dot it
        also returns, per lower layer, (1/tau) W_dot^T = (1/tau) (sum_k z_dot_k M_k)^T [B, n_upper, n_l].
        """
        b = z.shape[0]
        mats, mats_dot = [], []
        for level, n in enumerate(self.sizes):
            rate, rec = self.rates[level], self.recurrent[level]
            parts = [rec.weight.T.expand(b, n, n)]
            if level < len(self.sizes) - 1:
                w = self.topdown_weights(level, z) + self.topdown_B[level]
                parts.append(w.transpose(1, 2))
                if z_dot is not None:
                    mats_dot.append(rate * self.topdown_weights(level, z_dot).transpose(1, 2))
            parts.append(rec.bias.view(1, 1, n).expand(b, 1, n))
            mats.append(rate * torch.cat(parts, dim=1))
        return mats, mats_dot

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
        mats, mats_dot = self.step_matrices(z, z_dot)
        u0 = self.initial_state[pattern]
        keep = [1.0 - r for r in self.rates]
        if z_dot is None:
            return self.readout(_Rollout.apply(u0, self.sizes, keep, steps, *mats))
        states, states_dot = _rollout_with_tangent(u0, self.sizes, keep, steps, mats, mats_dot)
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


def _step_inputs(d: list[torch.Tensor], level: int, ones: torch.Tensor) -> torch.Tensor:
    """The row vector [d^l_{t-1}, d^{l+1}_t, 1] of one layer (no d^{l+1} for the top layer)."""
    if level < len(d) - 1:
        return torch.cat((d[level], d[level + 1], ones), dim=2)
    return torch.cat((d[level], ones), dim=2)


class _Rollout(torch.autograd.Function):
    """Bottom-layer states d^1_1..d^1_T [B, T, n_1] from initial states and step matrices, with its own backward.

    Forward: per step, top layer first, u <- keep * u + inputs @ A; d = tanh(u) (states are [B, 1, n] rows).
    Backward: the adjoint recurrence, layers bottom first within a step and steps last first; gradients
    of the A_l are formed at the end, one batched product over all steps per layer.
    """

    @staticmethod
    def forward(ctx, u0: torch.Tensor, sizes: list[int], keep: list[float], steps: int,
                *mats: torch.Tensor) -> torch.Tensor:
        ones = u0.new_ones(u0.shape[0], 1, 1)
        u = list(torch.split(u0.unsqueeze(1), sizes, dim=2))
        d = [torch.tanh(x) for x in u]
        history = [[x] for x in d]
        for _ in range(steps):
            for level in range(len(sizes) - 1, -1, -1):
                u[level] = torch.baddbmm(u[level], _step_inputs(d, level, ones), mats[level], beta=keep[level])
                d[level] = torch.tanh(u[level])
                history[level].append(d[level])
        states = [torch.cat(h, dim=1) for h in history]  # [B, T + 1, n_l]: d^l_0 .. d^l_T
        ctx.save_for_backward(*states, *mats)
        ctx.keep = keep
        return states[0][:, 1:].clone()

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):  # noqa: ANN205 (autograd's signature)
        n_layers = len(ctx.keep)
        states, mats = ctx.saved_tensors[:n_layers], ctx.saved_tensors[n_layers:]
        keep, top, steps = ctx.keep, n_layers - 1, grad_out.shape[1]
        # tanh' of every state, split once into per-step views [B, 1, n_l] (index t: step t, 0: initial).
        slope = [torch.split(1 - s * s, 1, dim=1) for s in states]
        g_out = torch.split(grad_out, 1, dim=1)
        widths = [[states[level].shape[2]] + ([states[level + 1].shape[2]] if level < top else []) + [1]
                  for level in range(n_layers)]
        mats_t = [m.transpose(1, 2) for m in mats]
        g_u: list[torch.Tensor | None] = [None] * n_layers  # dL/du^l at the step after the current one
        g_prev: list[torch.Tensor | None] = [None] * n_layers  # dL/dd^l_t through layer l's next step
        g_u_all: list[list[torch.Tensor]] = [[] for _ in range(n_layers)]
        for t in range(steps, 0, -1):
            g_from_below = g_out[t - 1]
            for level in range(n_layers):
                g_d = g_from_below if g_prev[level] is None else g_from_below + g_prev[level]
                g = g_d * slope[level][t]
                if g_u[level] is not None:
                    g = torch.add(g, g_u[level], alpha=keep[level])
                # dL/d[inputs] [B, 1, m_l]: own previous state, the layer above (this step), the constant.
                g_in = torch.split(torch.bmm(g, mats_t[level]), widths[level], dim=2)
                g_prev[level] = g_in[0]
                if level < top:
                    g_from_below = g_in[1]
                g_u[level] = g
                g_u_all[level].append(g)
        g_u0 = [g_prev[level] * slope[level][0] + keep[level] * g_u[level] for level in range(n_layers)]
        ones = grad_out.new_ones(grad_out.shape[0], steps, 1)
        g_mats = []
        for level in range(n_layers):
            parts = [states[level][:, :-1]] + ([states[level + 1][:, 1:]] if level < top else []) + [ones]
            inputs = torch.cat(parts, dim=2)  # [B, T, m_l], the rows the forward multiplied by A_l
            g_steps = torch.cat(g_u_all[level][::-1], dim=1)  # [B, T, n_l]
            g_mats.append(torch.bmm(inputs.transpose(1, 2), g_steps))
        return (torch.cat(g_u0, dim=2).squeeze(1), None, None, None, *g_mats)


def _rollout_with_tangent(u0: torch.Tensor, sizes: list[int], keep: list[float], steps: int,
                          mats: list[torch.Tensor], mats_dot: list[torch.Tensor]
                          ) -> tuple[torch.Tensor, torch.Tensor]:
    """Bottom-layer states and their tangents, [B, T, n_1] each: the forward-mode rule of each step.

    The drive of a lower layer is bilinear in (z, d^{l+1}), so its tangent is [d_dot_{t-1}, d_dot^{l+1}_t, 0] A
    + d^{l+1}_t (1/tau) W_dot^T; initial states do not depend on z, so their tangents start at zero.
    """
    ones = u0.new_ones(u0.shape[0], 1, 1)
    zeros = torch.zeros_like(ones)
    u = list(torch.split(u0.unsqueeze(1), sizes, dim=2))
    d = [torch.tanh(x) for x in u]
    u_dot = [torch.zeros_like(x) for x in u]
    d_dot = [torch.zeros_like(x) for x in u]
    top = len(sizes) - 1
    out, out_dot = [], []
    for _ in range(steps):
        for level in range(top, -1, -1):
            u[level] = torch.baddbmm(u[level], _step_inputs(d, level, ones), mats[level], beta=keep[level])
            u_dot[level] = torch.baddbmm(u_dot[level], _step_inputs(d_dot, level, zeros), mats[level],
                                         beta=keep[level])
            if level < top:
                u_dot[level] = torch.baddbmm(u_dot[level], d[level + 1], mats_dot[level])
            d[level] = torch.tanh(u[level])
            d_dot[level] = (1 - d[level] ** 2) * u_dot[level]
        out.append(d[0])
        out_dot.append(d_dot[0])
    return torch.cat(out, dim=1), torch.cat(out_dot, dim=1)
