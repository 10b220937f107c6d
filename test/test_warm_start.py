"""The block-position warm start: fitted from a model file, same completions as the multi-start search."""

import dataclasses

import numpy as np
import pytest
import torch

from latent_nodes.config import InferenceConfig
from latent_nodes.inference.completion import BehaviourCompleter
from latent_nodes.inference.warm_start import WarmStart, fit_warm_start, polynomial_features
from latent_nodes.model.checkpoint import Checkpoint
from latent_nodes.sim.demonstrations import train_test_positions

from synthetic import tiny_checkpoint

# The stated tolerance (docs/online.md): joint angles within 1e-6 rad of the search's completion.
JOINT_TOLERANCE = 1e-6


@pytest.fixture(scope="module")
def shipped() -> BehaviourCompleter:
    torch.set_num_threads(1)
    return BehaviourCompleter.from_checkpoint()


def test_polynomial_features():
    f = polynomial_features(np.array([[2.0, 3.0]]), 2)
    np.testing.assert_array_equal(f, [[1, 2, 3, 4, 6, 9]])
    assert polynomial_features(np.zeros((5, 2)), 3).shape == (5, 10)


def test_fit_on_the_shipped_model(shipped):
    ws = shipped.warm_start
    assert ws is shipped.warm_start, "fitted once per completer"
    assert ws.degrees == (3, 3)
    # The chart's xi spread is about 0.4 per axis; the map predicts held-out samples to within 0.005.
    assert max(ws.loo_rms) < 0.005
    own = ws.predict(shipped.ckpt.normalizer.normalize(shipped.ckpt.sample_block_xy, [9, 10]),
                     shipped.model.sample_patterns.numpy())
    assert np.abs(own - shipped.model.coords.numpy()).max() < 0.01


@pytest.mark.parametrize("behaviour", ["reach", "reach_circle"])
def test_same_completions_as_the_search(shipped, behaviour):
    search = BehaviourCompleter(shipped.ckpt, dataclasses.replace(shipped.inference_cfg, warm_start=False))
    assert shipped.inference_cfg.warm_start, "on by default"
    _, test_xy = train_test_positions()
    rng = np.random.default_rng(0)
    random_xy = np.stack([rng.uniform(0.35, 0.60, 4), rng.uniform(-0.20, 0.20, 4)], 1)
    for xy in np.concatenate([test_xy[::3], random_xy]):
        a, w = search.complete(xy, behaviour), shipped.complete(xy, behaviour)
        assert np.abs(a.joints - w.joints).max() < JOINT_TOLERANCE
        assert w.error < 1e-10


def test_a_warm_start_that_does_not_converge_falls_back_to_the_search(shipped):
    good = shipped.warm_start
    far = WarmStart(degrees=(1, 1), coefficients=tuple(np.r_[[[50.0, -50.0]], np.zeros((2, 2))] for _ in range(2)),
                    loo_rms=(0.0, 0.0))
    completer = BehaviourCompleter(shipped.ckpt, shipped.inference_cfg)
    completer.warm_start = far  # replaces the cached map
    xy = np.array([0.47, 0.03])
    mc = shipped.config.model
    obs = torch.zeros(1, mc.seq_len, mc.output_dim)
    mask = torch.zeros_like(obs, dtype=torch.bool)
    xy_norm = shipped.ckpt.normalizer.normalize(xy, [9, 10])
    obs[0, 0, 9:] = torch.as_tensor(xy_norm)
    mask[0, 0, 9:] = True
    assert far.infer(shipped.model, 0, xy_norm, obs, mask, shipped.inference_cfg) is None
    assert good.infer(shipped.model, 0, xy_norm, obs, mask, shipped.inference_cfg) is not None
    search = BehaviourCompleter(shipped.ckpt, dataclasses.replace(shipped.inference_cfg, warm_start=False))
    np.testing.assert_array_equal(completer.complete(xy, "reach").sequence, search.complete(xy, "reach").sequence)


def test_models_without_block_positions_use_the_search():
    ckpt = tiny_checkpoint([f"j{i}" for i in range(9)], epochs=30)
    assert fit_warm_start(ckpt) is not None  # the synthetic model records its positions
    old = Checkpoint(**{**ckpt.__dict__, "sample_block_xy": None})
    completer = BehaviourCompleter(old, InferenceConfig(warm_start=True))
    assert completer.warm_start is None
    assert np.all(np.isfinite(completer.complete([0.47, 0.03], "reach").joints))


def test_small_training_sets_get_an_affine_map():
    ckpt = tiny_checkpoint([f"j{i}" for i in range(9)], epochs=30)  # 16 samples per behaviour
    assert fit_warm_start(ckpt, max_degree=3).degrees[0] <= 2  # cubic needs 20 (two per coefficient)
    keep = np.r_[0:7, 16:23]  # 7 samples per behaviour: only the affine map (3 coefficients) qualifies
    model = ckpt.model
    model.sample_patterns = model.sample_patterns[keep]
    model.coords = torch.nn.Parameter(model.coords.detach()[keep])
    small = Checkpoint(**{**ckpt.__dict__, "sample_block_xy": ckpt.sample_block_xy[keep]})
    assert fit_warm_start(small).degrees == (1, 1)
