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
        self.register_buffer("inv_tau", torch.tensor([1.0 / t for t in taus]), persistent=False)

        # Recurrence within each layer (its bias is the layer's only bias).
        self.recurrent = nn.ModuleList(nn.Linear(n, n) for n in sizes)
        # Top-down from layer l (upper) into l-1 (lower): M^l stored flat as [L * n_lower, n_upper] so that
        # one matmul gives all M^l_k d^l at once.
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

    def topdown(self, level: int, z: torch.Tensor, d_upper: torch.Tensor,
                z_dot: torch.Tensor | None = None, d_upper_dot: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """W^{level+1}(z) d_upper for a batch, B d + sum_k z_k (M_k d), never forming W per sample.

        With tangents (z_dot, d_upper_dot) it also returns the directional derivative
        W(z) d_dot + (sum_k z_dot_k M_k) d, the forward-mode rule of this bilinear map.
        """
        lower = self.sizes[level]
        md = (d_upper @ self.topdown_M[level].T).view(-1, self.latent_dim, lower)  # [B, L, n_lower]
        out = d_upper @ self.topdown_B[level].T + torch.einsum("bk,bki->bi", z, md)
        if z_dot is None:
            return out, None
        md_dot = (d_upper_dot @ self.topdown_M[level].T).view(-1, self.latent_dim, lower)
        out_dot = (d_upper_dot @ self.topdown_B[level].T + torch.einsum("bk,bki->bi", z, md_dot)
                   + torch.einsum("bk,bki->bi", z_dot, md))
        return out, out_dot

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
        tangent = z_dot is not None
        u = list(torch.split(self.initial_state[pattern], self.sizes, dim=1))
        d = [torch.tanh(ul) for ul in u]
        # Initial states do not depend on z, so their tangents start at zero.
        u_dot = [torch.zeros_like(ul) for ul in u] if tangent else []
        d_dot = [torch.zeros_like(ul) for ul in u] if tangent else []
        top = len(self.sizes) - 1
        outputs, outputs_dot = [], []
        for _ in range(steps):
            new_d: list[torch.Tensor] = [None] * len(self.sizes)  # type: ignore[list-item]
            new_d_dot: list[torch.Tensor] = [None] * len(self.sizes)  # type: ignore[list-item]
            for level in range(top, -1, -1):
                rec = self.recurrent[level]
                drive = rec(d[level])
                drive_dot = d_dot[level] @ rec.weight.T if tangent else None
                if level < top:
                    td, td_dot = self.topdown(level, z, new_d[level + 1], z_dot,
                                              new_d_dot[level + 1] if tangent else None)
                    drive = drive + td
                    if tangent:
                        drive_dot = drive_dot + td_dot
                a = self.inv_tau[level]
                u[level] = (1 - a) * u[level] + a * drive
                new_d[level] = torch.tanh(u[level])
                if tangent:
                    u_dot[level] = (1 - a) * u_dot[level] + a * drive_dot
                    new_d_dot[level] = (1 - new_d[level] ** 2) * u_dot[level]
            d, d_dot = new_d, new_d_dot
            outputs.append(self.readout(d[0]))
            if tangent:
                outputs_dot.append(d_dot[0] @ self.readout.weight.T)
        x = torch.stack(outputs, dim=1)
        return (x, torch.stack(outputs_dot, dim=1)) if tangent else x
