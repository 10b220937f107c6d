"""Per-pattern embeddings m_p: R^K -> R^L of local coordinates xi into the shared latent space.

Each behaviour p has its own small MLP (Sec. III-A). The weights of all patterns are stacked so that a
mini-batch mixing behaviours is embedded in one batched operation: each sample gathers its pattern's
weights and a batched matrix product applies them, with no Python loop over samples or patterns. Its
forward-mode derivative is carried by hand next to the map (``xi_dot``): the regularizer and
Gauss-Newton inference need Jacobian-vector products, and this costs a few operations where
``torch.func.jvp`` costs many (the tests hold the two to rounding).
"""

from __future__ import annotations

import math

import torch
from torch import nn


class PatternEmbedding(nn.Module):
    """``forward(xi[B, K], pattern[B]) -> z[B, L]`` with a one-hidden-layer tanh MLP per pattern."""

    def __init__(self, n_patterns: int, local_dim: int, latent_dim: int, hidden: int) -> None:
        super().__init__()
        self.local_dim, self.latent_dim = int(local_dim), int(latent_dim)
        b1 = 1.0 / math.sqrt(local_dim)
        b2 = 1.0 / math.sqrt(hidden)
        self.w1 = nn.Parameter(torch.empty(n_patterns, hidden, local_dim).uniform_(-b1, b1))
        self.b1 = nn.Parameter(torch.empty(n_patterns, hidden).uniform_(-b1, b1))
        self.w2 = nn.Parameter(torch.empty(n_patterns, latent_dim, hidden).uniform_(-b2, b2))
        self.b2 = nn.Parameter(torch.zeros(n_patterns, latent_dim))

    def forward(self, xi: torch.Tensor, pattern: torch.Tensor, xi_dot: torch.Tensor | None = None
                ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """z = m_p(xi) per sample; with tangents ``xi_dot`` also J(xi) xi_dot (exact forward mode).

        ``xi_dot`` is one tangent per sample [B, K] (giving [B, L]) or R of them [B, K, R] (giving
        [B, L, R]): the regularizer pushes all its Monte-Carlo directions through one evaluation of the
        hidden layer, which they share.
        """
        if xi.ndim != 2 or xi.shape[1] != self.local_dim:
            raise ValueError(f"xi must be [B, {self.local_dim}], got {tuple(xi.shape)}")
        w1, w2 = self.w1[pattern], self.w2[pattern]
        h = torch.tanh(torch.baddbmm(self.b1[pattern].unsqueeze(2), w1, xi.unsqueeze(2)))  # [B, H, 1]
        z = torch.baddbmm(self.b2[pattern].unsqueeze(2), w2, h).squeeze(2)
        if xi_dot is None:
            return z
        single = xi_dot.ndim == 2
        h_dot = (1 - h**2) * torch.bmm(w1, xi_dot.unsqueeze(2) if single else xi_dot)  # [B, H, R]
        z_dot = torch.bmm(w2, h_dot)
        return z, z_dot.squeeze(2) if single else z_dot
