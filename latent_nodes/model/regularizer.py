"""The conformal regularizer L_perp of the paper's Algorithm 1.

For orthonormal pairs (v, w) drawn uniformly at each sample's xi, the pushforwards J v and J w of the
embedding should stay orthogonal: L_perp = E[(v^T J^T J w)^2] = E[((J v) . (J w))^2]. It is zero
exactly when J^T J = c I (the map is locally conformal), which makes steps in xi move z by the same
amount whatever their direction, so descent in xi is well conditioned (the paper's Appendix A).

J is never built: J v and J w are forward-mode Jacobian-vector products carried through the embedding
by hand (``PatternEmbedding(xi, pattern, xi_dot)``), all 2 n_MC directions of a sample in one pass
that shares its hidden layer. The result stays on the autograd graph, so it is differentiable with
respect to the embedding's parameters and to xi. ``conformal_regularizer_jvp`` computes the same value
for any map with ``torch.func.jvp``: the reference the tests and the training-speed benchmark use.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.func import jvp

# An embedding that carries tangents: embed(xi [B, K], pattern [B], xi_dot [B, K, R]) -> (z, J xi_dot [B, L, R]).
TangentEmbedding = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


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


def _draws(xi: torch.Tensor, n_mc: int, generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
    """n_MC pairs per sample, [n_MC * B, K] each; draw l of sample i is row l * B + i."""
    if n_mc < 1:
        raise ValueError(f"n_MC must be >= 1, got {n_mc}")
    return orthonormal_pairs(n_mc * xi.shape[0], xi.shape[1], generator, xi.dtype, xi.device)


def conformal_regularizer(embed: TangentEmbedding, xi: torch.Tensor, pattern: torch.Tensor, n_mc: int,
                          generator: torch.Generator | None = None) -> torch.Tensor:
    """L_perp for a mini-batch: the mean of (v^T J^T J w)^2 over B samples and n_MC draws each.

    ``embed`` is the embedding m_p with its tangents (a ``PatternEmbedding``); ``pattern`` selects each
    sample's map. The draws are those of ``conformal_regularizer_jvp`` for the same generator state.
    """
    v, w = _draws(xi, n_mc, generator)
    b, k = xi.shape
    # [B, K, 2 n_MC]: columns 0..n_MC-1 are the v of each draw, n_MC..2 n_MC-1 the matching w.
    tangents = torch.cat((v, w)).view(2 * n_mc, b, k).permute(1, 2, 0)
    _, pushed = embed(xi, pattern, tangents)
    return ((pushed[:, :, :n_mc] * pushed[:, :, n_mc:]).sum(dim=1) ** 2).mean()


def conformal_regularizer_jvp(embed: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], xi: torch.Tensor,
                              pattern: torch.Tensor, n_mc: int, generator: torch.Generator | None = None
                              ) -> torch.Tensor:
    """The same L_perp for any map ``embed(xi, pattern) -> z``, with ``torch.func.jvp`` (two passes)."""
    v, w = _draws(xi, n_mc, generator)
    xi_rep = xi.repeat(n_mc, 1)  # [n_MC * B, K], row l * B + i like the draws
    pat_rep = pattern.repeat(n_mc)

    def m(x: torch.Tensor) -> torch.Tensor:
        return embed(x, pat_rep)

    _, jv = jvp(m, (xi_rep,), (v,))
    _, jw = jvp(m, (xi_rep,), (w,))
    return ((jv * jw).sum(dim=1) ** 2).mean()
