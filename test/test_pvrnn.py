"""The deterministic PVRNN and the batched embeddings."""

import torch
from torch.func import functional_call, jvp

from latent_nodes.config import ModelConfig
from latent_nodes.model.embedding import PatternEmbedding
from latent_nodes.model.latent_model import LatentModel
from latent_nodes.model.pvrnn import PVRNN


def make(seed: int = 0) -> PVRNN:
    torch.manual_seed(seed)
    return PVRNN(ModelConfig(layer_sizes=[16, 8, 4], time_constants=[2.0, 4.0, 8.0]))


def test_shape_and_determinism():
    net = make()
    z, pattern = torch.randn(5, 4), torch.tensor([0, 1, 1, 0, 1])
    x1, x2 = net(z, pattern), net(z, pattern)
    assert x1.shape == (5, 20, 11)
    assert torch.equal(x1, x2)


def test_batched_equals_one_by_one():
    net = make()
    z, pattern = torch.randn(4, 4), torch.tensor([0, 1, 0, 1])
    batched = net(z, pattern)
    single = torch.cat([net(z[i:i + 1], pattern[i:i + 1]) for i in range(4)])
    assert torch.allclose(batched, single, atol=1e-6)


def test_output_depends_on_z_only_through_topdown_weights():
    net = make()
    pattern = torch.tensor([0, 0])
    z = torch.randn(2, 4)
    assert not torch.allclose(net(z[:1], pattern[:1]), net(z[1:], pattern[1:]), atol=1e-4)
    assert not torch.allclose(net(z, pattern)[:, 0], net(z.flip(0), pattern)[:, 0], atol=1e-6), \
        "z must already shape the first step"
    with torch.no_grad():
        for m in net.topdown_M:
            m.zero_()
    out = net(z, pattern)
    assert torch.allclose(out[0], out[1], atol=1e-7), "with M = 0 nothing else may carry z"


def test_pattern_selects_initial_states():
    net = make()
    z = torch.zeros(2, 4)
    out = net(z, torch.tensor([0, 1]))
    assert not torch.allclose(out[0], out[1], atol=1e-4)


def test_explicit_tangents_match_torch_func_jvp():
    torch.manual_seed(1)
    cfg = ModelConfig(layer_sizes=[16, 8, 4])
    model = LatentModel(cfg, torch.tensor([0, 1, 0]))
    xi, tangent, pattern = torch.randn(3, 2), torch.randn(3, 2), torch.tensor([0, 1, 1])
    x, x_dot = model.generate(xi, pattern, coords_dot=tangent)
    # torch.func.jvp through the same map written with plain autograd operations.
    ref, ref_dot = jvp(lambda q: model.pvrnn.reference_forward(model.embedding(q, pattern), pattern), (xi,), (tangent,))
    assert torch.allclose(x, ref, atol=1e-6)
    assert torch.allclose(x_dot, ref_dot, atol=1e-5)
    x3, x3_dot = model.generate(xi, pattern, steps=3, coords_dot=tangent)
    assert torch.allclose(x3, ref[:, :3], atol=1e-6) and torch.allclose(x3_dot, ref_dot[:, :3], atol=1e-5)


def double_net(seed: int = 3) -> PVRNN:
    """A float64 network with non-trivial biases, so every path of the layer weights carries weight."""
    net = make(seed).double()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return net


def test_fused_rollout_equals_the_step_by_step_reference():
    net = double_net()
    z, pattern = torch.randn(5, 4, dtype=torch.float64), torch.tensor([0, 1, 1, 0, 1])
    for steps in (1, 7, 20):
        assert torch.allclose(net(z, pattern, steps), net.reference_forward(z, pattern, steps), atol=1e-12, rtol=0)


def test_fused_rollout_backward_equals_autograd_of_the_reference():
    # The rollout's own backward against autograd through the reference, for every parameter and z.
    net = double_net()
    z = torch.randn(4, 4, dtype=torch.float64, requires_grad=True)
    pattern = torch.tensor([1, 0, 1, 1])
    target = torch.randn(4, 20, 11, dtype=torch.float64)
    inputs = [z, *net.parameters()]
    fused = torch.autograd.grad(((net(z, pattern) - target) ** 2).sum(), inputs)
    reference = torch.autograd.grad(((net.reference_forward(z, pattern) - target) ** 2).sum(), inputs)
    for (name, _), a, b in zip([("z", z), *net.named_parameters()], fused, reference):
        assert torch.allclose(a, b, atol=1e-10, rtol=1e-9), name
        assert b.abs().max() > 0, name


def test_fused_rollout_passes_gradcheck():
    torch.manual_seed(5)
    net = PVRNN(ModelConfig(layer_sizes=[5, 4, 3], latent_dim=2)).double()
    z = torch.randn(3, 2, dtype=torch.float64, requires_grad=True)
    u0 = torch.randn(2, 12, dtype=torch.float64, requires_grad=True)
    pattern = torch.tensor([0, 1, 1])

    def rollout(z: torch.Tensor, u0: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        params = {"initial_state": u0, "topdown_M.0": m}
        return functional_call(net, params, (z, pattern), {"steps": 4})

    m = net.topdown_M[0].detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(rollout, (z, u0, m))


def test_embedding_is_per_pattern_and_batched():
    torch.manual_seed(2)
    emb = PatternEmbedding(n_patterns=2, local_dim=2, latent_dim=4, hidden=8)
    xi = torch.randn(1, 2).repeat(2, 1)
    z = emb(xi, torch.tensor([0, 1]))
    assert z.shape == (2, 4)
    assert not torch.allclose(z[0], z[1]), "each behaviour has its own map"
    mixed = emb(torch.randn(6, 2), torch.tensor([0, 1, 1, 0, 1, 0]))
    assert mixed.shape == (6, 4)
