"""The NumPy inference path against the torch reference: same generator, same searches, same answers.

Stated tolerance (docs/online.md): a glimpse's joint angles and coordinates within 1e-6 of the torch
path's (measured up to 1.5e-7: float32 rounding), an online estimate's within 2e-5 (measured up to 1e-5:
after one Gauss-Newton step on a window whose error is nearly flat in xi, rounding can tip a step's
acceptance), errors within 1e-7 absolute. The estimates' own accuracy is about 1e-3 rad, and a wrong
Jacobian, drive or step rule shows up orders of magnitude above either tolerance.
"""

import dataclasses

import numpy as np
import pytest
import torch

from latent_nodes.config import BEHAVIOURS, CASE_NO_EMBEDDING, DataConfig, InferenceConfig, ModelConfig, SimConfig
from latent_nodes.inference.completion import BehaviourCompleter
from latent_nodes.inference.online import OnlineEstimator
from latent_nodes.inference.search import infer_latent
from latent_nodes.model.latent_model import LatentModel
from latent_nodes.model.numpy_generator import NumpyGenerator
from latent_nodes.sim.demonstrations import generate_demonstration, sample_rng, train_test_positions

JOINT_TOL = 1e-6  # rad
COORD_TOL = 1e-6
ONLINE_TOL = 2e-5  # rad and coordinate units
ERROR_TOL = 1e-7  # normalized units, squared


@pytest.fixture(scope="module")
def shipped() -> BehaviourCompleter:
    torch.set_num_threads(1)
    return BehaviourCompleter.from_checkpoint()


def backend(completer: BehaviourCompleter, name: str, **changes) -> BehaviourCompleter:
    return completer.with_settings(dataclasses.replace(completer.inference_cfg, backend=name, **changes))


def torch_generate(model: LatentModel, coords: np.ndarray, pattern: np.ndarray, steps: int):
    """Values [B, steps, O] and Jacobian [B, steps, O, D] from the torch model (one JVP per direction)."""
    q, p = torch.as_tensor(coords, dtype=torch.float32), torch.as_tensor(pattern)
    with torch.no_grad():
        x = model.generate(q, p, steps).numpy()
        cols = [model.generate(q, p, steps, coords_dot=torch.eye(q.shape[1])[j].expand_as(q))[1].numpy()
                for j in range(q.shape[1])]
    return x, np.stack(cols, axis=-1)


@pytest.mark.parametrize("steps", [1, 7, 20])
def test_generator_and_jacobian_equal_the_torch_model(shipped, steps):
    model = shipped.model
    coords = model.coords[[0, 30, 7, 49]].detach().double().numpy() + np.array([0.02, -0.03])
    pattern = model.sample_patterns[[0, 30, 7, 49]].numpy()  # both behaviours mixed in one batch
    gen = NumpyGenerator.of(model)
    x, jac = gen.generate(coords, pattern, steps, jacobian=True)
    x_ref, jac_ref = torch_generate(model, coords, pattern, steps)
    assert x.shape == x_ref.shape and jac.shape == jac_ref.shape
    assert np.abs(jac_ref).max() > 0.1  # the Jacobian is not trivially small
    np.testing.assert_allclose(x, x_ref, atol=2e-6)
    np.testing.assert_allclose(jac, jac_ref, atol=2e-6)
    np.testing.assert_allclose(gen.generate(coords, pattern, steps), x)  # without tangents: the same values


def test_generator_without_embedding_and_a_fresh_snapshot_after_a_weight_changes():
    torch.manual_seed(3)
    cfg = ModelConfig(case=CASE_NO_EMBEDDING)
    model = LatentModel(cfg, torch.tensor([0, 1, 1]))
    z = np.random.default_rng(0).normal(size=(3, cfg.latent_dim))
    x, jac = NumpyGenerator.of(model).generate(z, np.array([0, 1, 1]), 5, jacobian=True)
    x_ref, jac_ref = torch_generate(model, z, np.array([0, 1, 1]), 5)
    np.testing.assert_allclose(x, x_ref, atol=2e-6)
    np.testing.assert_allclose(jac, jac_ref, atol=2e-6)
    first = NumpyGenerator.of(model)
    assert NumpyGenerator.of(model) is first  # unchanged weights: the same snapshot
    with torch.no_grad():
        model.pvrnn.readout.bias.add_(1.0)
    again = NumpyGenerator.of(model)
    assert again is not first
    np.testing.assert_allclose(again.generate(z, np.array([0, 1, 1]), 5), x + 1.0, atol=1e-12)


@pytest.mark.parametrize("warm_start", [True, False])
def test_glimpse_completions_equal_the_reference(shipped, warm_start):
    fast, ref = backend(shipped, "numpy", warm_start=warm_start), backend(shipped, "torch", warm_start=warm_start)
    _, test_xy = train_test_positions()
    for xy in test_xy[::3]:
        for name in BEHAVIOURS:
            a, b = fast.complete(xy, name), ref.complete(xy, name)
            assert np.abs(a.joints - b.joints).max() < JOINT_TOL
            assert np.abs(a.xi - b.xi).max() < COORD_TOL
            assert abs(a.error - b.error) < ERROR_TOL and a.error < 1e-8


def test_partial_masks_and_batched_queries_equal_the_reference(shipped):
    model = shipped.model
    with torch.no_grad():
        truth = model(torch.tensor([3, 40]))  # a reach and a reach_circle training sample
    mask = torch.zeros_like(truth, dtype=torch.bool)
    mask[0, :5, :9] = True  # joints of the first five steps
    mask[1, 2, 9:] = True  # the block at step 3 only
    mask[1, 6, :9] = True  # and the joints at step 7
    pattern = model.sample_patterns[[3, 40]]
    results = {name: infer_latent(model, pattern, truth, mask, InferenceConfig(steps=12, n_starts=4, backend=name))
               for name in ("numpy", "torch")}
    a, b = results["numpy"], results["torch"]
    assert a.coords.dtype == b.coords.dtype == torch.float32 and a.sequence.shape == b.sequence.shape
    assert (a.coords - b.coords).abs().max() < COORD_TOL
    assert (a.sequence - b.sequence).abs().max() < 1e-5  # normalized units
    assert (a.error - b.error).abs().max() < ERROR_TOL
    assert (a.coords - model.coords[[3, 40]]).abs().max() < 1e-2  # and it found the samples' own xi


@pytest.mark.parametrize("behaviour", ["reach", None])
def test_online_estimates_equal_the_reference_at_every_step(shipped, behaviour):
    _, test_xy = train_test_positions()
    seq = generate_demonstration("reach_circle" if behaviour is None else behaviour, test_xy[5],
                                 sample_rng(DataConfig().seed, 1, True, 5), SimConfig(), DataConfig())
    fast = OnlineEstimator(backend(shipped, "numpy"), behaviour)
    ref = OnlineEstimator(backend(shipped, "torch"), behaviour)
    assert fast.numpy and not ref.numpy
    for t in range(seq.shape[0]):
        a, b = fast.observe(seq[t, 9:], seq[t, :9]), ref.observe(seq[t, 9:], seq[t, :9])
        assert np.abs(a.completion.joints - b.completion.joints).max() < ONLINE_TOL, t
        assert np.abs(a.completion.xi - b.completion.xi).max() < ONLINE_TOL, t
        assert abs(a.window_error - b.window_error) < ERROR_TOL, t
        if behaviour is None:
            assert a.recognition.decision == b.recognition.decision
            for name in BEHAVIOURS:
                assert abs(a.recognition.errors[name] - b.recognition.errors[name]) < max(ERROR_TOL, 1e-5 * abs(
                    b.recognition.errors[name])), (t, name)


def test_unknown_backend_is_refused(shipped):
    obs = torch.zeros(20, 11)
    mask = torch.zeros(20, 11, dtype=torch.bool)
    mask[0, 9:] = True
    with pytest.raises(ValueError, match="unknown inference backend 'jax'"):
        infer_latent(shipped.model, 0, obs, mask, InferenceConfig(backend="jax"))


def test_a_rejected_last_trial_keeps_the_start_and_its_completion(shipped):
    """One undamped step from far-off starts: some trials are rejected, and both paths keep those starts."""
    from latent_nodes.inference.search import _gauss_newton_numpy

    model = shipped.model
    with torch.no_grad():
        truth = model(torch.tensor([12]))
    mask = torch.zeros_like(truth, dtype=torch.bool)
    mask[0, :3] = True
    starts = torch.as_tensor(np.random.default_rng(0).uniform(-2.0, 2.0, (16, 2)), dtype=torch.float32)
    gen = NumpyGenerator.of(model)
    obs = np.repeat(truth[:, :3].double().numpy(), 16, axis=0)
    _, _, _, accepted = _gauss_newton_numpy(gen, starts.double().numpy(), np.zeros(16, dtype=np.int64), obs,
                                            np.repeat(mask[:, :3].double().numpy(), 16, axis=0), 3, 1, 0.0)
    assert 0 < accepted.sum() < 16  # the case under test happens
    for one in np.nonzero(~accepted)[0][:3]:  # a single rejected start: its completion is generated afresh
        results = {name: infer_latent(model, 0, truth, mask, InferenceConfig(steps=1, damping=0.0, backend=name),
                                      starts=starts[one:one + 1]) for name in ("numpy", "torch")}
        a, b = results["numpy"], results["torch"]
        assert torch.equal(a.coords, starts[one:one + 1])
        assert (a.sequence - b.sequence).abs().max() < 1e-5
        assert torch.allclose(a.error, b.error, rtol=1e-6, atol=ERROR_TOL)  # a large error: float32's relative rounding
