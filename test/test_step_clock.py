"""An online behaviour's clock: steps due on the trajectory's timing, and which block pose is fresh."""

from latent_nodes.inference.step_clock import AHEAD, FRESH, OBSERVED, STALE, StepClock

S = 1_000_000_000  # one second, ns
CLOCK = StepClock(start_ns=100 * S, dt=0.1, seq_len=20)


def test_step_k_is_due_with_its_trajectory_point_and_a_late_observer_skips_to_the_step_reached():
    assert CLOCK.due_ns(0) == 100 * S + S // 10 and CLOCK.due_ns(19) == 102 * S
    assert CLOCK.reached(100 * S) == -1 and CLOCK.reached(CLOCK.due_ns(3)) == 3
    assert CLOCK.reached(CLOCK.due_ns(3) - 1) == 2
    assert CLOCK.reached(200 * S) == 19, "never past the last step"


def test_a_pose_is_fresh_once_while_recent_and_never_again_when_re_sent():
    now = 101 * S
    assert CLOCK.freshness(now - S // 5, now, None, 0.5) == FRESH  # a camera's image 0.2 s ago
    assert CLOCK.freshness(now - S // 5, now, now - S // 5, 0.5) == OBSERVED, "the same stamp re-sent"
    assert CLOCK.freshness(now - S // 2, now, now - S // 5, 0.5) == OBSERVED, "older than one observed"
    assert CLOCK.freshness(now - S // 10, now, now - S // 5, 0.5) == FRESH, "a newer image"
    assert CLOCK.freshness(now - 6 * S // 10, now, None, 0.5) == STALE
    assert CLOCK.freshness(now + S // 20, now, None, 0.5) == FRESH, "a clock half a step ahead"
    assert CLOCK.freshness(now + 2 * S // 10, now, None, 0.5) == AHEAD
