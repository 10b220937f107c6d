"""Training lowers the paper's loss; inference recovers coordinates; resumed training is exact."""

import numpy as np
import pytest
import torch

from latent_nodes.config import CASES, Config, InferenceConfig
from latent_nodes.inference.search import infer_latent
from latent_nodes.model.training import Trainer

from synthetic import dataset

PERCEPTION = [9, 10]


def small_config(case: str = "embedding+regularization", seed: int = 0) -> Config:
    cfg = Config()
    cfg.model.case = case
    cfg.model.layer_sizes = [32, 16, 8]
    cfg.train.batch_size = 50
    cfg.train.lr = 1e-2
    cfg.train.seed = seed
    return cfg


@pytest.fixture(scope="module")
def trained() -> Trainer:
    seqs, labels, _ = dataset()
    torch.manual_seed(123)  # global state must not matter: Trainer seeds its own streams
    tr = Trainer(small_config(), seqs, labels)
    tr.fit(250)
    return tr


@pytest.mark.parametrize("case", CASES)
def test_every_case_lowers_the_loss(case):
    seqs, labels, _ = dataset(n_side=3)
    tr = Trainer(small_config(case), seqs, labels)
    first = tr.run_epoch()
    tr.fit(60)
    last = tr.history[-1]
    assert last["reconstruction"] < 0.3 * first.reconstruction
    assert set(last) == {"epoch", "loss", "reconstruction", "regularizer"}
    if case == "no-embedding":
        assert last["regularizer"] == 0.0
    else:
        assert last["regularizer"] > 0.0  # measured in both embedding cases


def test_training_reaches_a_small_error(trained):
    assert trained.history[-1]["reconstruction"] < 0.01


def test_same_seed_same_numbers_and_resume_is_exact():
    seqs, labels, _ = dataset(n_side=3)
    straight = Trainer(small_config(seed=7), seqs, labels)
    straight.fit(12)
    first = Trainer(small_config(seed=7), seqs, labels)
    first.fit(5)
    resumed = Trainer(small_config(seed=7), seqs, labels)
    resumed.model.load_state_dict(first.model.state_dict())
    resumed.load_state_dict(first.state_dict())
    resumed.fit(12)
    assert straight.history == resumed.history
    for (name, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), name
    other = Trainer(small_config(seed=8), seqs, labels)
    other.fit(1)
    assert other.history[0]["loss"] != straight.history[0]["loss"]


def exclude_own_start(tr: Trainer, i: int, n: int = 6) -> torch.Tensor:
    """Starting points from the same behaviour, never the sample's own coordinates."""
    pattern = int(tr.model.sample_patterns[i])
    idx = [j for j in torch.nonzero(tr.model.sample_patterns == pattern).flatten().tolist() if j != i]
    return tr.model.coords.detach()[idx[::max(1, len(idx) // n)]]


@pytest.mark.parametrize("i", [6, 12, 33, 43])
def test_inference_recovers_xi_from_the_full_sequence(trained, i):
    model = trained.model
    target = model(torch.tensor([i])).detach()[0]
    mask = torch.ones(20, 11, dtype=torch.bool)
    res = infer_latent(model, int(model.sample_patterns[i]), target, mask, InferenceConfig(steps=40),
                       starts=exclude_own_start(trained, i))
    spread = model.coords.detach().std(dim=0).mean().item()
    assert torch.linalg.norm(res.coords[0] - model.coords[i].detach()).item() < 0.02 * spread
    assert res.error.item() < 1e-6


@pytest.mark.parametrize("i", [6, 12, 33, 43])
def test_inference_recovers_xi_from_first_step_perception(trained, i):
    model = trained.model
    target = model(torch.tensor([i])).detach()[0]
    obs = torch.full((20, 11), float("nan"))  # unobserved values may hold anything
    obs[0, PERCEPTION] = target[0, PERCEPTION]
    mask = torch.zeros(20, 11, dtype=torch.bool)
    mask[0, PERCEPTION] = True
    res = infer_latent(model, int(model.sample_patterns[i]), obs, mask, InferenceConfig(steps=40),
                       starts=exclude_own_start(trained, i))
    spread = model.coords.detach().std(dim=0).mean().item()
    assert torch.linalg.norm(res.coords[0] - model.coords[i].detach()).item() < 0.05 * spread
    # The completed sequence is the whole behaviour, not just the observed step.
    assert ((res.sequence[0] - target) ** 2).sum(-1).mean().item() < 1e-3


def test_inference_generalizes_to_an_unseen_position(trained):
    from synthetic import sequence

    truth = torch.tensor(sequence(np.array([0.2, -0.2]), 1), dtype=torch.float32)
    mask = torch.zeros(20, 11, dtype=torch.bool)
    mask[0, PERCEPTION] = True
    res = infer_latent(trained.model, 1, truth, mask)
    assert res.error.item() < 1e-4
    assert ((res.sequence[0] - truth) ** 2).sum(-1).mean().item() < 0.02


def test_adam_method_and_batched_queries(trained):
    model = trained.model
    model.zero_grad(set_to_none=True)
    targets = model(torch.tensor([3, 30])).detach()
    mask = torch.zeros(2, 20, 11, dtype=torch.bool)
    mask[:, 0, PERCEPTION] = True
    res = infer_latent(model, torch.tensor([0, 1]), targets, mask, InferenceConfig(method="adam", steps=100))
    assert res.coords.shape == (2, 2) and res.sequence.shape == (2, 20, 11)
    assert (res.error < 1e-3).all()
    assert all(p.grad is None for p in model.parameters()), "inference must not touch model gradients"


def test_inference_rejects_bad_input(trained):
    model = trained.model
    mask = torch.zeros(20, 11, dtype=torch.bool)
    with pytest.raises(ValueError, match="observes nothing"):
        infer_latent(model, 0, torch.zeros(20, 11), mask)
    mask[0, PERCEPTION] = True
    obs = torch.zeros(20, 11)
    obs[0, 9] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        infer_latent(model, 0, obs, mask)
    with pytest.raises(ValueError, match="out of range"):
        infer_latent(model, 5, torch.zeros(20, 11), mask)
    with pytest.raises(ValueError, match=r"\[B, T, O\]"):
        infer_latent(model, 0, torch.zeros(19, 11), mask)


def test_prefix_masks_and_completion_from_a_longer_prefix(trained):
    """Eq. (2) with a longer observation: the mask, the observed entries kept, and k = 0 the paper's protocol."""
    from latent_nodes.evaluation import (
        prefix_mask,
        reconstruct_from_first_step,
        reconstruct_from_prefix,
        with_observed,
    )

    from synthetic import sequence

    cfg = trained.model.cfg
    m0, m3 = prefix_mask(cfg, 0), prefix_mask(cfg, 3)
    assert m0.sum() == 2 and m0[0, PERCEPTION].all()
    assert m3[:3].all() and m3.sum() == 3 * cfg.output_dim and not m3[3:].any()
    with pytest.raises(ValueError, match="observed_steps"):
        prefix_mask(cfg, cfg.seq_len)
    pred, truth = np.zeros((1, 20, 11)), np.ones((1, 20, 11))
    assert with_observed(pred, truth, m3.numpy()).sum() == 33
    assert torch.equal(with_observed(torch.zeros(1, 20, 11), torch.ones(1, 20, 11), m3), torch.as_tensor(
        with_observed(pred, truth, m3.numpy()), dtype=torch.float32))

    xy = np.array([[0.2, -0.2], [-0.3, 0.1]])
    truth = np.stack([sequence(p, b) for p, b in zip(xy, (0, 1))])
    labels = np.array([0, 1])
    inf = InferenceConfig(steps=20)
    first = reconstruct_from_first_step(trained.model, truth, labels, inf)
    again = reconstruct_from_prefix(trained.model, truth, labels, inf, observed_steps=0)
    assert np.array_equal(first.errors, again.errors)
    longer = reconstruct_from_prefix(trained.model, truth, labels, inf, observed_steps=4)
    assert np.allclose(longer.sequences[:, :4], truth[:, :4], atol=1e-6)  # the prefix is the observation
    assert (longer.errors < 0.02).all()
