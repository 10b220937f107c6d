"""The commander's splice without ROS: phase kept, no jump beyond the velocity limit, ends on the update."""

import numpy as np
import pytest

from latent_nodes.robot.safety import CheckedTrajectory, rate_limit
from latent_nodes.robot.splice import splice

DT = 0.1  # the behaviour's step
TICK = 0.02  # the commander's command period (50 Hz)
VMAX = np.full(3, 2.0)


def behaviour(offset: float, n: int = 20) -> CheckedTrajectory:
    """A smooth 3-joint behaviour, point k at (k + 1) * DT, shifted by ``offset`` rad (a moved target)."""
    t = (np.arange(n) + 1) * DT
    q = np.stack([0.5 * np.sin(t), 0.3 * t, -0.2 * t ** 2], axis=1) + offset
    return CheckedTrajectory(t, q, clamped=False)


def stream(trajectory: CheckedTrajectory, elapsed: float, last: np.ndarray) -> np.ndarray:
    """Sample the spliced trajectory at the commander's ticks from ``elapsed`` to its end, unlimited."""
    ticks = np.arange(elapsed, trajectory.duration + TICK, TICK)
    return np.vstack([last] + [trajectory.sample(t) for t in ticks])


@pytest.mark.parametrize("elapsed", [0.35, 0.8, 1.23])
def test_phase_is_kept_and_the_blend_stays_within_the_velocity_limit(elapsed):
    running, updated = behaviour(0.0), behaviour(0.05)
    last = running.sample(elapsed)  # the arm is where the running plan had it
    spliced = splice(updated, elapsed, last, VMAX)
    # No jump: at the current time the command is still the last one sent...
    assert np.allclose(spliced.sample(elapsed), last)
    # ...and no command moves faster than the limit (the updated plan itself is slower than 2 rad/s).
    commands = stream(spliced, elapsed, last)
    assert np.max(np.abs(np.diff(commands, axis=0))) <= VMAX[0] * TICK + 1e-12
    # Phase kept: after the blend (one step here, 5 cm at 2 rad/s takes 25 ms) the updated plan at its own
    # times, not restarted from its first point; the end is the updated plan's end, on time.
    for t in np.arange(elapsed + DT, updated.duration, 0.01):
        assert np.allclose(spliced.sample(t), updated.sample(t))
    assert spliced.duration == pytest.approx(updated.duration)
    assert np.allclose(spliced.positions[-1], updated.positions[-1])
    assert spliced.times[0] == pytest.approx(elapsed)


def test_a_large_change_blends_over_several_points_at_the_limit():
    updated = behaviour(0.6)  # 0.6 rad away: 0.3 s at 2 rad/s, three of the plan's steps
    last, elapsed = behaviour(0.0).sample(0.5), 0.5
    spliced = splice(updated, elapsed, last, VMAX)
    blend_end = spliced.times[1]
    assert blend_end - elapsed >= np.max(np.abs(spliced.positions[1] - last)) / VMAX[0] - 1e-12
    assert blend_end > elapsed + 2 * DT, "the nearer points could not be reached in time"
    assert blend_end in updated.times, "the blend ends on one of the updated plan's own points"
    commands = stream(spliced, elapsed, last)
    assert np.max(np.abs(np.diff(commands, axis=0))) <= VMAX[0] * TICK + 1e-12
    assert np.allclose(commands[-1], updated.positions[-1])


def test_a_large_change_near_the_end_blends_to_the_last_point_as_fast_as_allowed():
    updated = behaviour(0.5)
    elapsed = updated.duration - 0.05  # 50 ms left, 0.5 rad to go: no point reachable in time
    last = behaviour(0.0).sample(elapsed)
    spliced = splice(updated, elapsed, last, VMAX)
    assert len(spliced.times) == 2 and np.allclose(spliced.positions[-1], updated.positions[-1])
    assert spliced.duration - elapsed == pytest.approx(np.max(np.abs(updated.positions[-1] - last)) / 2.0)
    commands = stream(spliced, elapsed, last)
    assert np.max(np.abs(np.diff(commands, axis=0))) <= VMAX[0] * TICK + 1e-12


@pytest.mark.parametrize("elapsed", [2.0, 2.5, 1.7e9])
def test_a_behaviour_that_is_already_over_is_refused_not_run_as_a_straight_line(elapsed):
    """Before: a far-past stamp became a straight joint-space line to the last point at full velocity."""
    with pytest.raises(ValueError, match="nothing left to splice"):
        splice(behaviour(0.1), elapsed, behaviour(0.0).positions[-1], VMAX)


def test_the_commanders_rate_limiter_leaves_a_spliced_stream_untouched():
    """The splice alone respects the limit, so rate limiting (the commander's last guard) changes nothing."""
    updated, elapsed = behaviour(0.2), 0.42
    last = behaviour(0.0).sample(elapsed)
    spliced = splice(updated, elapsed, last, VMAX)
    command = last
    for t in np.arange(elapsed + TICK, spliced.duration, TICK):
        desired = spliced.sample(t)
        limited = rate_limit(command, desired, VMAX, TICK)
        assert np.allclose(limited, desired, atol=1e-9)
        command = limited


def test_bad_arguments_are_refused():
    updated = behaviour(0.0)
    with pytest.raises(ValueError, match="one value per joint"):
        splice(updated, 0.3, np.zeros(2), VMAX)
    with pytest.raises(ValueError, match="finite"):
        splice(updated, 0.3, np.array([np.nan, 0, 0]), VMAX)
    with pytest.raises(ValueError, match="positive velocity"):
        splice(updated, 0.3, np.zeros(3), np.zeros(3))


def test_a_behaviour_that_starts_later_is_approached_from_now_to_its_first_point_on_time():
    """As JTC (trajectory.cpp kilted L143-160): from where the arm is now to the first point, due at its time."""
    updated = behaviour(0.0)
    last = updated.positions[0] + 0.1
    spliced = splice(updated, -0.5, last, VMAX)  # the stamp is half a second ahead
    assert spliced.times[0] == pytest.approx(-0.5) and np.allclose(spliced.sample(-0.5), last)
    assert np.allclose(spliced.positions[1:], updated.positions) and np.allclose(spliced.times[1:], updated.times)
