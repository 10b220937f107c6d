"""Stamped trajectories and joint states judged against this node's clock, without ROS."""

import pytest

from latent_nodes.robot.admission import FEEDBACK_FUTURE_SLACK_S, RefusedStamp, admit_stamp, clock_hint, feedback_time

WALL = 1.7e9  # a wall clock now (seconds since 1970)
SIM = 120.0  # a simulated clock two minutes after the world started


def test_a_stamp_in_the_recent_past_is_admitted_at_its_phase():
    admitted = admit_stamp(WALL - 0.8, WALL, duration=2.0, max_future_start_s=1.0)
    assert admitted.elapsed == pytest.approx(0.8) and admitted.clock_warning is None


def test_a_start_within_the_horizon_is_admitted():
    admitted = admit_stamp(WALL + 0.5, WALL, duration=2.0, max_future_start_s=1.0)
    assert admitted.elapsed == pytest.approx(-0.5) and admitted.clock_warning is None


def test_a_trajectory_that_has_ended_is_refused():
    with pytest.raises(RefusedStamp, match=r"ended 0.5 s ago"):
        admit_stamp(WALL - 2.5, WALL, duration=2.0, max_future_start_s=1.0)


def test_a_start_beyond_the_horizon_is_refused():
    with pytest.raises(RefusedStamp, match=r"starts 1.5 s from now, more than max_future_start_s \(1 s\)"):
        admit_stamp(WALL + 1.5, WALL, duration=2.0, max_future_start_s=1.0)


@pytest.mark.parametrize("stamp, now, words", [
    (WALL, SIM, "ahead of this node's clock: the stamp is wall time and this node's clock is not: is this node on "
                "sim time (use_sim_time) and the sender on wall time?"),
    (SIM, WALL, "behind this node's clock: this node's clock is wall time and the stamp is not: is the sender on "
                "sim time (use_sim_time) and this node on wall time?"),
    (WALL - 30.0, WALL, "both are wall time, so the two machines' clocks differ"),
    (SIM - 30.0, SIM, "both are simulated time or time since boot"),
])
def test_a_stamp_off_by_more_than_the_behaviour_says_which_clock_is_wrong(stamp, now, words):
    with pytest.raises(RefusedStamp) as refused:
        admit_stamp(stamp, now, duration=2.0, max_future_start_s=1.0)
    text = str(refused.value)
    assert words in text and "\n" not in text
    assert f"{abs(stamp - now):.3g} s" in text


def test_the_hint_gives_the_size_of_the_disagreement():
    assert clock_hint(WALL, SIM).startswith("stamp is 1.7e+09 s ahead of this node's clock")


def test_an_admitted_stamp_off_by_more_than_the_behaviour_carries_the_warning():
    within = admit_stamp(WALL - 40.0, WALL, duration=50.0, max_future_start_s=1.0)
    assert within.clock_warning is None and within.elapsed == pytest.approx(40.0)  # a long behaviour, running
    short = admit_stamp(WALL + 0.8, WALL, duration=0.5, max_future_start_s=1.0)  # due later than it lasts
    assert short.clock_warning.startswith("stamp is 0.8 s ahead of this node's clock")


def test_feedback_uses_its_stamp_when_set_and_on_this_clock():
    assert feedback_time(0.0, WALL).at_s == WALL and feedback_time(0.0, WALL).warning is None  # not set
    assert feedback_time(WALL - 0.3, WALL).at_s == pytest.approx(WALL - 0.3)  # 0.3 s old, by its stamp
    assert feedback_time(WALL + FEEDBACK_FUTURE_SLACK_S / 2, WALL).at_s == WALL  # ms of skew: measured now


@pytest.mark.parametrize("stamp, received, words", [
    (WALL + 5.0, WALL, "5 s ahead of this node's clock"),
    (SIM, WALL, "is the sender on sim time (use_sim_time) and this node on wall time?"),
    (WALL, SIM, "is this node on sim time (use_sim_time) and the sender on wall time?"),
])
def test_feedback_stamped_on_another_clock_falls_back_to_its_receipt_with_a_warning(stamp, received, words):
    measured = feedback_time(stamp, received)
    assert measured.at_s == received
    assert measured.warning.startswith("/joint_states stamp is") and words in measured.warning
    assert measured.warning.endswith("using the receipt time for its age")
