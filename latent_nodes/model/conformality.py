"""How conformal a learned chart is, as numbers that compare across runs (the paper's Fig. 4, quantified).

The regularizer's L_perp = E[(v^T G w)^2], G = J^T J the pulled-back metric of the embedding m_p, is
zero for a conformal chart but scales with |J|^4, and it is zero for a collapsed chart (J = 0) too: a
chart that maps every xi to one z would score perfectly. Two scale-free measures do not have that flaw:

- ``condition``: the condition number of G at each training xi, (sigma_max / sigma_min)^2 of J. It is
  1 where the chart is conformal (G = c I: it stretches every direction alike) and grows as it favours
  some directions. Where J loses a direction (sigma_min = 0, J = 0 included) it is +inf.
- ``orthogonality``: E[(v^T G w)^2] / E[||J v||^2]^2 over uniform orthonormal pairs (v, w) and the
  training xi, i.e. L_perp divided by the squared mean squared stretch. It is 0 exactly for conformal
  charts, invariant to scaling J, at most 1/2 for K = 2 (a rank-1 chart), and +inf for a chart that is
  collapsed at every training xi (J = 0: nothing is stretched to compare with).

So 1 and 0 mean conformal, larger means less so, and inf means collapsed: never a perfect score.

Both expectations over (v, w) are exact, not Monte Carlo: for uniform v on the sphere in R^K and w
uniform orthogonal to it, E[v^T G v] = tr G / K and E[(v^T G w)^2] = (K tr(G^2) - (tr G)^2) / (K (K-1) (K+2))
(from E[||G v||^2] = tr(G^2) / K = E[(v^T G v)^2] + (K - 1) E[(v^T G w)^2]); the numerator is
||G - (tr G / K) I||_F^2 / ((K - 1)(K + 2)), the squared size of G's non-conformal part. The tests check
both against draws of ``orthonormal_pairs``. Everything is computed in float64.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

from latent_nodes.model.regularizer import TangentEmbedding


def chart_jacobians(embed: TangentEmbedding, xi: torch.Tensor, pattern: torch.Tensor) -> torch.Tensor:
    """J = dm_p/dxi [N, L, K] at each xi: the embedding's tangents along the K coordinate axes."""
    n, k = xi.shape
    axes = torch.eye(k, dtype=xi.dtype, device=xi.device).expand(n, k, k)
    with torch.no_grad():
        _, jac = embed(xi, pattern, axes)
    return jac


def condition_numbers(jac: torch.Tensor) -> torch.Tensor:
    """cond(J^T J) per point [N], float64; +inf where J^T J is singular (a direction is collapsed)."""
    s = torch.linalg.svdvals(jac.double())  # [N, K], descending
    smin, smax = s[:, -1], s[:, 0]
    return torch.where(smin > 0, (smax / smin.clamp(min=torch.finfo(torch.float64).tiny)) ** 2, math.inf)


def orthogonality_ratio(jac: torch.Tensor) -> float:
    """E[(v^T J^T J w)^2] / E[||J v||^2]^2 over uniform orthonormal pairs and all N points; +inf if J = 0 everywhere."""
    k = jac.shape[2]
    if k < 2:
        raise ValueError(f"orthogonal pairs need at least 2 local dimensions, got K={k}")
    g = jac.double().transpose(1, 2) @ jac.double()  # [N, K, K]
    mean_stretch = torch.diagonal(g, dim1=1, dim2=2).mean(dim=1)  # tr G / K = E[||J v||^2] at each point
    # K tr(G^2) - (tr G)^2 = K ||G - (tr G / K) I||_F^2: the metric's departure from c I, without cancellation.
    departure = ((g - mean_stretch.view(-1, 1, 1) * torch.eye(k, dtype=g.dtype, device=g.device)) ** 2).sum(dim=(1, 2))
    cross = (departure / ((k - 1) * (k + 2))).mean()  # E[(v^T G w)^2]
    stretch = mean_stretch.mean()  # E[||J v||^2]
    if stretch <= 0:
        return math.inf
    return float(cross / stretch**2)


@dataclass
class ChartConformality:
    """Conformality of one behaviour's chart over its training coordinates."""

    condition_median: float  # median over the points of cond(J^T J): 1 is conformal, inf collapsed
    condition_max: float  # the worst point
    orthogonality: float  # E[(v^T G w)^2] / E[||J v||^2]^2: 0 is conformal, inf collapsed
    points: int

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def chart_conformality(jac: torch.Tensor) -> ChartConformality:
    """Both measures for the Jacobians [N, L, K] of one chart at N points."""
    if jac.ndim != 3 or jac.shape[0] == 0:
        raise ValueError(f"expected Jacobians [N, L, K] with N > 0, got shape {tuple(jac.shape)}")
    cond = condition_numbers(jac)
    return ChartConformality(condition_median=float(cond.median()), condition_max=float(cond.max()),
                             orthogonality=orthogonality_ratio(jac), points=int(jac.shape[0]))


def model_conformality(model, behaviour_names: list[str] | tuple[str, ...]) -> dict[str, dict[str, float]]:
    """Per behaviour name, the conformality of its chart m_p at the learned training xi; {} without embedding.

    ``model`` is a ``LatentModel``; behaviours without training samples are left out.
    """
    if model.embedding is None:
        return {}
    out = {}
    for p, name in enumerate(behaviour_names):
        xi = model.pattern_coords(p).detach()
        if xi.shape[0] == 0:
            continue
        pattern = torch.full((xi.shape[0],), p, dtype=torch.long, device=xi.device)
        out[name] = chart_conformality(chart_jacobians(model.embedding, xi, pattern)).to_dict()
    return out
