"""Behaviour recognition: the margin's rule, and recognition of real demonstrations with the shipped model."""

import numpy as np
import pytest
import torch

from latent_nodes.config import BEHAVIOURS, DataConfig, SimConfig
from latent_nodes.inference.completion import BehaviourCompleter
from latent_nodes.inference.online import OnlineEstimator
from latent_nodes.inference.recognition import UNDECIDED, RecognitionMargin
from latent_nodes.sim.demonstrations import generate_demonstration, sample_rng, train_test_positions

NAMES = ("reach", "reach_circle")


def test_margin_rule():
    m = RecognitionMargin(ratio=4.0, min_gap=2e-4, max_error=5e-3)
    clear = m.decide(NAMES, [0.3, 1e-4])
    assert clear.decision == "reach_circle" and clear.decided and clear.ranking == ("reach_circle", "reach")
    assert clear.errors == {"reach": 0.3, "reach_circle": 1e-4}
    # Both at the noise floor: the ratio is large but the gap is not -> abstain.
    assert m.decide(NAMES, [2e-6, 3e-5]).decision == UNDECIDED
    # Absolutely apart but relatively close -> abstain.
    assert m.decide(NAMES, [1e-3, 2e-3]).decision == UNDECIDED
    # The best does not fit the window at all -> abstain, however far ahead.
    tied = m.decide(NAMES, [0.9, 0.01])
    assert tied.decision == UNDECIDED and tied.best == "reach_circle" and not tied.decided
    # A non-finite error ranks last.
    assert m.decide(NAMES, [np.nan, 1e-4]).decision == "reach_circle"
    with pytest.raises(ValueError, match="ratio >= 1"):
        RecognitionMargin(ratio=0.5)
    with pytest.raises(ValueError, match="2 behaviour names for 3 errors"):
        m.decide(NAMES, [1.0, 2.0, 3.0])


def test_any_number_of_behaviours_is_ranked_and_one_is_named_while_it_fits():
    m = RecognitionMargin(ratio=4.0, min_gap=2e-4, max_error=5e-3)
    three = m.decide(("wipe", "push", "poke"), [0.2, 1e-3, 0.05])
    assert three.decision == "push" and three.ranking == ("push", "poke", "wipe")
    assert m.decide(("wipe", "push", "poke"), [0.2, 1e-3, 2e-3]).decision == UNDECIDED  # the runner-up too close
    # One behaviour: no runner-up to beat, so it is named exactly while the window fits it.
    assert m.decide(("wipe",), [1e-3]).decision == "wipe"
    assert m.decide(("wipe",), [0.1]).decision == UNDECIDED


@pytest.fixture(scope="module")
def completer() -> BehaviourCompleter:
    torch.set_num_threads(1)
    return BehaviourCompleter.from_checkpoint()


@pytest.mark.parametrize("b, i", [(0, 0), (0, 17), (1, 4), (1, 21)])
def test_training_demonstrations_are_recognized(completer, b, i):
    train_xy, _ = train_test_positions()
    seq = generate_demonstration(BEHAVIOURS[b], train_xy[i], sample_rng(DataConfig().seed, b, False, i),
                                 SimConfig(), DataConfig())
    est = OnlineEstimator(completer, None)  # recognize: both behaviours in one batch
    first = est.observe(seq[0, 9:], seq[0, :9])
    # Every demonstration starts at home: one step cannot tell the behaviours apart.
    assert first.recognition.decision == UNDECIDED
    assert set(first.recognition.errors) == set(BEHAVIOURS)
    for t in range(1, 4):
        e = est.observe(seq[t, 9:], seq[t, :9])
    assert e.recognition.decision == BEHAVIOURS[b]
    assert e.completion.behaviour == BEHAVIOURS[b]
    other = BEHAVIOURS[1 - b]
    assert e.recognition.errors[other] > 100 * e.recognition.errors[BEHAVIOURS[b]]
    # The recognized completion is the behaviour's own: it matches the demonstration.
    assert np.abs(e.completion.joints - seq[:, :9]).max() < 0.03


def test_recognizing_judges_the_block_against_the_region_trained_nearest_it(tmp_path):
    """Behaviours recorded at different positions: a pose in either's region is inside while recognizing."""
    from latent_nodes.config import Config
    from latent_nodes.inference.completion import OutOfDomain
    from latent_nodes.model.checkpoint import save_checkpoint
    from latent_nodes.model.training import to_checkpoint, trainer_for_dataset
    from latent_nodes.sim.demonstrations import generate_dataset

    data = generate_dataset(DataConfig(train_grid=[3, 3], test_grid=[0, 0]), SimConfig())
    x = data.block_xy[:, 0]
    # reach only on the near two rows (x <= 0.475), reach_circle only on the far two (x >= 0.475).
    data = data.subset(((data.labels == 0) & (x < 0.5)) | ((data.labels == 1) & (x > 0.45)))
    cfg = Config()
    cfg.model.layer_sizes, cfg.train.batch_size = [16, 8, 4], 32
    torch.manual_seed(0)
    trainer, normalizer = trainer_for_dataset(cfg, data)
    trainer.fit(5)  # the regions are what is tested, not the fit
    save_checkpoint(tmp_path / "m.pt", to_checkpoint(trainer, normalizer, data))
    completer = BehaviourCompleter.from_checkpoint(tmp_path / "m.pt")
    far, near = [0.6, 0.0], [0.35, 0.0]  # 0.125 m outside reach's region / reach_circle's
    assert completer.nearest_region(far) == "reach_circle" and completer.nearest_region(near) == "reach"
    assert completer.nearest_region([np.nan, 0.0]) == "reach"
    with pytest.raises(OutOfDomain, match="outside the region 'reach' was trained on"):
        OnlineEstimator(completer, "reach").observe(far)
    for xy in (far, near):
        estimate = OnlineEstimator(completer, None).observe(xy)  # recognizing: inside one of the regions
        assert estimate.recognition is not None and estimate.completion.domain.pose_distance == 0.0
    with pytest.raises(OutOfDomain, match="outside the region 'reach_circle'"):
        OnlineEstimator(completer, None).observe([0.7, 0.0])  # beyond both: judged by the nearest
