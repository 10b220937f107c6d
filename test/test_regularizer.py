"""The conformal regularizer L_perp of Algorithm 1 against closed forms and explicit Jacobians."""

import math

import pytest
import torch

from latent_nodes.model.embedding import PatternEmbedding
from latent_nodes.model.regularizer import conformal_regularizer, conformal_regularizer_jvp, orthonormal_pairs


def linear_embedding(a: torch.Tensor):
    """m(xi) = A xi for every pattern, so J = A everywhere; with tangents [B, K, R] also A xi_dot."""
    return lambda xi, pattern, xi_dot: (xi @ a.T, a @ xi_dot)


def test_pairs_are_orthonormal():
    v, w = orthonormal_pairs(1000, 3, torch.Generator().manual_seed(0), torch.float64)
    ones = torch.ones(1000, dtype=torch.float64)
    assert torch.allclose(v.norm(dim=1), ones, atol=1e-12)
    assert torch.allclose(w.norm(dim=1), ones, atol=1e-12)
    assert (v * w).sum(dim=1).abs().max() < 1e-10


def test_zero_for_conformal_linear_map():
    # J = c Q[:, :K] with Q orthogonal gives J^T J = c^2 I: a conformal map.
    q, _ = torch.linalg.qr(torch.randn(4, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64))
    a = 1.7 * q[:, :2]
    xi = torch.randn(64, 2, dtype=torch.float64)
    value = conformal_regularizer(linear_embedding(a), xi, torch.zeros(64, dtype=torch.long), n_mc=8,
                                  generator=torch.Generator().manual_seed(2))
    assert value.item() < 1e-20


def test_monte_carlo_matches_closed_form_for_k2():
    # E[(v^T A w)^2] over uniform orthonormal pairs in R^2 is ((a22 - a11)^2 / 4 + a12^2) / 2, A = J^T J.
    j = torch.tensor([[1.0, 0.3], [0.2, 2.0], [-0.5, 0.7], [0.1, -0.4]], dtype=torch.float64)
    a = j.T @ j
    exact = (((a[1, 1] - a[0, 0]) ** 2) / 4 + a[0, 1] ** 2) / 2
    b, n_mc = 500, 200  # 100k draws
    xi = torch.randn(b, 2, dtype=torch.float64)
    est = conformal_regularizer(linear_embedding(j), xi, torch.zeros(b, dtype=torch.long), n_mc,
                                torch.Generator().manual_seed(3))
    # (v^T A w)^2 is bounded by max eigenvalue^2 spread; with 1e5 draws the standard error is < 0.5 %.
    assert est.item() == pytest.approx(exact.item(), rel=0.02)


def test_equals_explicit_jacobian_on_nonlinear_embedding():
    torch.manual_seed(4)
    emb = PatternEmbedding(n_patterns=2, local_dim=2, latent_dim=4, hidden=16).double()
    xi = torch.randn(6, 2, dtype=torch.float64)
    pattern = torch.tensor([0, 1, 0, 1, 1, 0])
    n_mc = 3
    value = conformal_regularizer(emb, xi, pattern, n_mc, torch.Generator().manual_seed(5))
    # The same draws, replayed, against Jacobians built explicitly sample by sample.
    v, w = orthonormal_pairs(n_mc * 6, 2, torch.Generator().manual_seed(5), torch.float64)
    terms = []
    for row in range(n_mc * 6):
        i = row % 6
        jac = torch.autograd.functional.jacobian(lambda x, i=i: emb(x.unsqueeze(0), pattern[i:i + 1])[0], xi[i])
        terms.append((v[row] @ jac.T @ jac @ w[row]) ** 2)
    assert value.item() == pytest.approx(torch.stack(terms).mean().item(), rel=1e-10)


def test_gradient_reaches_embedding_parameters_and_xi():
    torch.manual_seed(6)
    emb = PatternEmbedding(2, 2, 4, 16)
    xi = torch.randn(8, 2, requires_grad=True)
    value = conformal_regularizer(emb, xi, torch.arange(8) % 2, 4, torch.Generator().manual_seed(7))
    value.backward()
    for name in ("w1", "b1", "w2"):
        grad = getattr(emb, name).grad
        assert grad is not None and grad.abs().sum() > 0, name
        assert math.isfinite(grad.abs().sum().item())
    assert xi.grad is not None and xi.grad.abs().sum() > 0


def test_hand_carried_tangents_equal_torch_func_jvp():
    # The training path (tangents through the embedding by hand, all draws in one pass) against the
    # reference with torch.func.jvp, value and gradients, on the same draws.
    torch.manual_seed(8)
    emb = PatternEmbedding(2, 2, 4, 16).double()
    xi = torch.randn(10, 2, dtype=torch.float64, requires_grad=True)
    pattern = torch.arange(10) % 2
    fast = conformal_regularizer(emb, xi, pattern, 5, torch.Generator().manual_seed(9))
    ref = conformal_regularizer_jvp(emb, xi, pattern, 5, torch.Generator().manual_seed(9))
    assert fast.item() == pytest.approx(ref.item(), rel=1e-12)
    inputs = [xi, *emb.parameters()]
    for a, b in zip(torch.autograd.grad(fast, inputs, allow_unused=True),
                    torch.autograd.grad(ref, inputs, allow_unused=True)):
        if b is None:  # b2 shifts z but not J
            assert a is None or a.abs().max() == 0
        else:
            assert torch.allclose(a, b, rtol=1e-10, atol=1e-14)


def test_rejects_bad_draw_counts():
    emb = PatternEmbedding(1, 2, 4, 8)
    with pytest.raises(ValueError, match="n_MC"):
        conformal_regularizer(emb, torch.zeros(3, 2), torch.zeros(3, dtype=torch.long), 0)
    with pytest.raises(ValueError, match="at least 2"):
        orthonormal_pairs(4, 1)
