"""The conformal regularizer L_perp of the paper's Algorithm 1.

For orthonormal pairs (v, w) drawn uniformly at each sample's xi, the pushforwards J v and J w of the
embedding should stay orthogonal: L_perp = E[(v^T J^T J w)^2] = E[((J v) . (J w))^2]. It is zero
exactly when J^T J = c I (the map is locally conformal), which makes steps in xi move z by the same
amount whatever their direction, so descent in xi is well conditioned (the paper's Appendix A).

J is never built: J v and J w are forward-mode Jacobian-vector products (``torch.func.jvp``), costing
about one forward pass of the embedding each. All n_MC draws for all B samples run as one batch, and
the result stays on the autograd graph, so it is differentiable with respect to the embedding's
parameters and to xi.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.func import jvp


def orthonormal_pairs(n: int, dim: int, generator: torch.Generator | None = None,
                      dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu"
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """n pairs of orthonormal vectors in R^dim (Algorithm 1, lines 3-6): Gaussian draws, Gram-Schmidt."""
    if dim < 2:
        raise ValueError(f"orthogonal pairs need at least 2 local dimensions, got K={dim}")
    v = torch.randn(n, dim, generator=generator, dtype=dtype, device=device)
    w = torch.randn(n, dim, generator=generator, dtype=dtype, device=device)
    v = v / v.norm(dim=1, keepdim=True)
    w = w - (w * v).sum(dim=1, keepdim=True) * v
    w = w / w.norm(dim=1, keepdim=True)
    return v, w


def conformal_regularizer(embed: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], xi: torch.Tensor,
                          pattern: torch.Tensor, n_mc: int, generator: torch.Generator | None = None
                          ) -> torch.Tensor:
    """L_perp for a mini-batch: the mean of (v^T J^T J w)^2 over B samples and n_MC draws each.

    ``embed(xi[B, K], pattern[B]) -> z[B, L]`` is the embedding m_p; ``pattern`` selects each sample's map.
    """
    if n_mc < 1:
        raise ValueError(f"n_MC must be >= 1, got {n_mc}")
    b, k = xi.shape
    xi_rep = xi.repeat(n_mc, 1)  # [n_MC * B, K]: draw l of sample i at row l * B + i
    pat_rep = pattern.repeat(n_mc)
    v, w = orthonormal_pairs(n_mc * b, k, generator, xi.dtype, xi.device)

    def m(x: torch.Tensor) -> torch.Tensor:
        return embed(x, pat_rep)

    _, jv = jvp(m, (xi_rep,), (v,))
    _, jw = jvp(m, (xi_rep,), (w,))
    return ((jv * jw).sum(dim=1) ** 2).mean()
