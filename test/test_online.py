"""Online estimation with the shipped model on real demonstrations: convergence, a moved block, bad input."""

import numpy as np
import pytest
import torch

from latent_nodes.config import BEHAVIOURS, DataConfig, SimConfig
from latent_nodes.inference.completion import BehaviourCompleter, InvalidObservation, OutOfDomain
from latent_nodes.inference.online import OnlineEstimator
from latent_nodes.sim.demonstrations import generate_demonstration, sample_rng, train_test_positions

N_TRAIN = 25  # training positions per behaviour in the default dataset (5 x 5)


@pytest.fixture(scope="module")
def completer() -> BehaviourCompleter:
    torch.set_num_threads(1)
    return BehaviourCompleter.from_checkpoint()


@pytest.fixture(scope="module")
def demos():
    """Training demonstrations of the default dataset, regenerated exactly: (behaviour, position) -> [T, 11]."""
    train_xy, _ = train_test_positions()
    cache = {}

    def get(b: int, i: int) -> np.ndarray:
        if (b, i) not in cache:
            cache[b, i] = generate_demonstration(BEHAVIOURS[b], train_xy[i], sample_rng(DataConfig().seed, b, False, i),
                                                 SimConfig(), DataConfig())
        return cache[b, i]
    return get


def feed(est: OnlineEstimator, seq: np.ndarray, steps: range):
    e = None
    for t in steps:
        e = est.observe(seq[t, 9:], seq[t, :9])
    return e


@pytest.mark.parametrize("b, i", [(0, 6), (1, 18)])
def test_growing_prefix_converges_to_the_training_xi(completer, demos, b, i):
    seq = demos(b, i)
    xi_true = completer.model.coords[b * N_TRAIN + i].numpy()
    est = OnlineEstimator(completer, BEHAVIOURS[b])
    distance = []
    for t in range(seq.shape[0]):
        e = est.observe(seq[t, 9:], seq[t, :9])
        distance.append(np.linalg.norm(e.completion.xi - xi_true))
        assert e.step == t and e.window == tuple(range(t + 1))
        assert e.remaining.shape == (20 - t, 11) and e.remaining_joints.shape == (20 - t, 9)
    # The chart's xi of this sample spans about +-0.7; the estimate ends within 1e-3 of it, closer than
    # after the first glimpse, and reproduces the whole demonstration to within a hundredth of a radian.
    assert distance[-1] < 1e-3 and distance[-1] < distance[0]
    assert np.abs(e.completion.joints - seq[:, :9]).max() < 0.01
    assert e.joint_rms < 3e-3 and e.window_error < 1e-3
    np.testing.assert_allclose(e.completion.block_xy, seq[-1, 9:])
    # A training sample lies inside the domain, in the pose and in the chart.
    assert e.completion.domain.pose_distance == 0.0 and e.completion.domain.chart_distance < 0.05


def test_online_estimates_follow_the_domain_policy(completer):
    far = np.array([0.66, 0.0])  # 6 cm beyond the trained region's far edge
    refusing = OnlineEstimator(completer, "reach")
    with pytest.raises(OutOfDomain, match="0.060 m outside the region 'reach'"):
        refusing.observe(far, None)
    e = OnlineEstimator(completer.with_settings(out_of_domain="warn"), "reach").observe(far, None)
    assert e.completion.domain.pose_distance == pytest.approx(0.06)
    assert e.completion.domain.chart_distance > 0.1 and "0.060 m outside" in e.completion.warning
    # Joints alone: no block was seen, so there is no pose distance, only the chart's.
    seq = OnlineEstimator(completer, "reach").observe(np.array([0.47, 0.05]), None).completion.joints
    e = OnlineEstimator(completer, "reach").observe(None, seq[0])
    assert np.isnan(e.completion.domain.pose_distance) and np.isfinite(e.completion.domain.chart_distance)


@pytest.mark.parametrize("joints_after", ["none", "new plan"])
def test_moved_block_is_followed(completer, demos, joints_after):
    a, b = demos(0, 6), demos(0, 18)  # reach at (0.4125, -0.1) and at (0.5375, 0.1)
    est = OnlineEstimator(completer, "reach")
    before = feed(est, a, range(6))
    assert np.abs(before.completion.sequence[:, 9:] - a[0, 9:]).max() < 0.005
    for t in range(6, 10):  # the block now lies at b's position; the arm is unobserved or follows b's plan
        after = est.observe(b[0, 9:], None if joints_after == "none" else b[t, :9])
    assert after.window == (6, 7, 8, 9), "the window restarted when the block moved"
    # The completion now places the block at its new position and reaches for it as b's demonstration does.
    assert np.abs(after.completion.sequence[:, 9:] - b[0, 9:]).max() < 0.005
    assert np.abs(after.completion.joints - b[:, :9]).max() < 0.02
    assert np.abs(after.completion.joints - a[:, :9]).max() > 0.2
    # Joints count from the step after the move (at the move itself the arm cannot have reacted yet).
    assert (after.joint_rms is None) == (joints_after == "none")


def test_a_slowly_drifting_block_restarts_the_window_once_it_is_a_threshold_from_the_windows_start(completer, demos):
    """2 mm a step never moves 1 cm between two steps, but 1 cm from where the window started it has moved."""
    start = demos(0, 12)[0, 9:].copy()
    est = OnlineEstimator(completer, "reach")
    positions = [start + np.array([0.002 * k, 0.0]) for k in range(14)]
    restarts, anchor = [], positions[0]
    for k, xy in enumerate(positions):
        e = est.observe(xy, None)
        if np.linalg.norm(xy - anchor) > est.move_threshold:
            restarts.append(k)
            anchor = xy
        assert e.window[0] == (restarts[-1] if restarts else 0), f"step {k}: window {e.window}"
        # Every position in the window lies within the threshold of the window's first one: no mixed fit.
        spread = max(np.linalg.norm(positions[t] - positions[e.window[0]]) for t in e.window)
        assert spread <= est.move_threshold
        np.testing.assert_array_equal(est.window_block, positions[e.window[0]])
    assert restarts[:2] in ([5, 10], [6, 12]), restarts  # 10-12 mm from the window's start
    # The completion places the block where it is now, within a few mm, not where it started.
    assert np.linalg.norm(e.completion.sequence[0, 9:] - positions[-1]) < 0.005


def test_window_of_last_steps(completer, demos):
    seq = demos(1, 6)
    est = OnlineEstimator(completer, "reach_circle", window=3)
    e = feed(est, seq, range(8))
    assert e.window == (5, 6, 7)
    assert np.abs(e.completion.joints - seq[:, :9]).max() < 0.02


def test_skipped_steps_and_partial_observations(completer, demos):
    seq = demos(0, 12)
    est = OnlineEstimator(completer, "reach")
    est.observe(seq[0, 9:], seq[0, :9])
    e = est.observe(None, seq[3, :9], step=3)  # steps 1 and 2 missed, no perception at step 3
    assert e.step == 3 and e.window == (0, 3) and est.last_step == 3
    e = est.observe(seq[4, 9:], None)  # the next step after the last observed one
    assert e.step == 4 and e.window == (0, 3, 4)


def test_bad_input_is_refused_and_nothing_changes(completer, demos):
    seq = demos(0, 12)
    est = OnlineEstimator(completer, "reach")
    reference = OnlineEstimator(completer, "reach")
    feed(est, seq, range(3))
    feed(reference, seq, range(3))
    state = (est.estimate, est.last_step, est._values.copy(), est._observed.copy(), list(est._steps))
    bad = [
        (dict(block_xy=seq[3, 9:], joints=np.r_[seq[3, :8], np.nan]), r"not finite: finger_joint_right"),
        (dict(block_xy=seq[3, 9:], joints=seq[3, :8]), r"expected 9 joint angles \(arm_joint_1, .*\), got 8"),
        (dict(block_xy=seq[3, 9:], joints=np.r_[seq[3, :9], 0.0]), r"expected 9 joint angles .*got 10"),
        (dict(block_xy=[1.5, 0.0], joints=seq[3, :9]), r"off the table"),
        (dict(block_xy=[np.nan, 0.0], joints=seq[3, :9]), r"not finite"),
        (dict(block_xy=seq[3, 9:], joints=seq[3, :9], step=2), r"step 2 does not follow the last observed step 2"),
        (dict(block_xy=seq[3, 9:], joints=seq[3, :9], step=20), r"step 20 is past the behaviour's last step 19"),
    ]
    for kwargs, message in bad:
        with pytest.raises(InvalidObservation, match=message) as info:
            est.observe(**kwargs)
        assert "\n" not in str(info.value)
        assert est.estimate is state[0] and est.last_step == state[1] and est._steps == state[4]
        np.testing.assert_array_equal(est._values, state[2])
        np.testing.assert_array_equal(est._observed, state[3])
    # The refused observations left no trace: the next one gives what an undisturbed estimator gives.
    e, r = est.observe(seq[3, 9:], seq[3, :9]), reference.observe(seq[3, 9:], seq[3, :9])
    np.testing.assert_array_equal(e.completion.sequence, r.completion.sequence)


def test_nothing_observed_is_refused_only_before_anything_was(completer):
    est = OnlineEstimator(completer, "reach")
    with pytest.raises(InvalidObservation, match=r"step 0: nothing observed yet"):
        est.observe(None, None)
    assert est.estimate is None and est.last_step == -1


def test_a_block_hidden_for_several_steps_is_unobserved_and_seen_again_where_it_was_continues(completer, demos):
    """The arm hides the block for 7 steps (0.7 s, the camera's worst measured): those steps observe the
    joints only, and the block seen again at the same place continues the window.
    """
    seq = demos(0, 12)
    est = OnlineEstimator(completer, "reach")
    for t in range(20):
        hidden = 4 <= t <= 10
        e = est.observe(None if hidden else seq[t, 9:], seq[t, :9])
        assert e.block_observed == (not hidden) and e.window == tuple(range(t + 1)), (t, e.window)
    assert e.block_steps == (0, 1, 2, 3, *range(11, 20)) and e.joint_steps == tuple(range(20))
    assert np.abs(e.completion.joints - seq[:, :9]).max() < 0.006  # measured 0.0042 (0.0042 seeing it throughout)
    np.testing.assert_allclose(e.completion.block_xy, seq[0, 9:], atol=1e-9)


def test_a_block_seen_again_elsewhere_after_being_hidden_has_moved(completer, demos):
    a, b = demos(0, 6), demos(0, 18)
    est = OnlineEstimator(completer, "reach")
    feed(est, a, range(4))
    for t in range(4, 9):  # hidden: the joints alone
        e = est.observe(None, a[t, :9])
        assert not e.block_observed and e.window[0] == 0
    e = est.observe(b[0, 9:], a[9, :9])  # seen again 25 cm away
    assert e.window == (9,) and e.block_steps == (9,) and e.joint_steps == (), "a move: the window restarts"
    assert np.abs(e.completion.sequence[:, 9:] - b[0, 9:]).max() < 0.002  # measured 0.8 mm


def test_a_step_with_nothing_new_refines_the_estimate_on_the_window_as_it_stands(completer, demos):
    """Block hidden and joints stale: the step adds nothing to the window but still gets an estimate, which
    never fits the window worse than the one before (measured: equal to 1e-13, converged already).
    """
    a = demos(0, 6)
    est = OnlineEstimator(completer, "reach")
    last = feed(est, a, range(3))
    for t in range(3, 8):
        e = est.observe(None, None)
        assert e.step == t and e.window == (0, 1, 2) and not e.block_observed and est.last_step == t
        assert e.window_error <= last.window_error * (1 + 1e-9), (t, e.window_error, last.window_error)
        last = e
    assert np.abs(e.completion.joints - a[:, :9]).max() < 0.006  # measured 0.0041


def test_a_window_of_the_last_steps_keeps_the_blocks_latest_observation(completer, demos):
    seq = demos(1, 6)
    est = OnlineEstimator(completer, "reach_circle", window=3)
    est.observe(seq[0, 9:], seq[0, :9])
    for t in range(1, 8):
        e = est.observe(None, seq[t, :9])
    assert e.window == (0, 5, 6, 7) and e.block_steps == (0,) and e.joint_steps == (0, 5, 6, 7)
    # Measured: the block within 1.6 mm, the joints within 0.0035 rad of the demonstration.
    np.testing.assert_allclose(e.completion.sequence[:, 9:], np.broadcast_to(seq[0, 9:], (20, 2)), atol=0.0025)
    assert np.abs(e.completion.joints - seq[:, :9]).max() < 0.005


def test_reset_starts_a_new_behaviour(completer, demos):
    seq = demos(0, 12)
    est = OnlineEstimator(completer, "reach")
    feed(est, seq, range(20))
    with pytest.raises(InvalidObservation, match="reset"):
        est.observe(seq[0, 9:], seq[0, :9])
    est.reset()
    assert est.estimate is None and est.last_step == -1
    fresh = OnlineEstimator(completer, "reach").observe(seq[0, 9:], seq[0, :9])
    np.testing.assert_array_equal(est.observe(seq[0, 9:], seq[0, :9]).completion.sequence, fresh.completion.sequence)


def test_constructor_checks(completer):
    with pytest.raises(InvalidObservation, match="unknown behaviour"):
        OnlineEstimator(completer, "wave")
    with pytest.raises(ValueError, match="window"):
        OnlineEstimator(completer, "reach", window=0)
    with pytest.raises(ValueError, match="steps"):
        OnlineEstimator(completer, "reach", steps=0)


def test_a_block_is_judged_again_whenever_its_position_changes(completer):
    """The estimator reuses the domain judgement of an unchanged block; any change is judged afresh."""
    est = OnlineEstimator(completer, "reach")
    buffer = np.array([0.47, 0.05])  # a caller that reuses its buffer
    est.observe(buffer, None)
    e = est.observe(buffer, None)
    assert e.completion.domain.pose_distance == 0.0
    buffer[:] = [0.66, 0.0]  # 6 cm beyond the trained region
    with pytest.raises(OutOfDomain, match="0.060 m outside"):
        est.observe(buffer, None)
    with pytest.raises(InvalidObservation, match="not finite"):
        est.observe([np.nan, 0.0], None)
    warn = OnlineEstimator(completer.with_settings(out_of_domain="warn"), "reach")
    assert warn.observe([0.47, 0.05], None).completion.domain.pose_distance == 0.0
    e = warn.observe([0.64, 0.0], None)  # moved: a new window, judged and reported at the new position
    assert e.completion.domain.pose_distance == pytest.approx(0.04) and "0.040 m outside" in e.completion.warning
