"""Path and goal tolerances (JTC's constraints), without ROS."""

import numpy as np
import pytest

from latent_nodes.robot.tolerances import CommandHistory, ToleranceMonitor, joint_values, parse_joint_values

NAMES = ["shoulder", "elbow", "wrist"]


def monitor(path=(0.1, 0.1, 0.0), time_s=0.2, goal=(0.05, 0.05, 0.05)) -> ToleranceMonitor:
    m = ToleranceMonitor(NAMES, np.array(path), time_s, np.array(goal))
    m.start()
    return m


def test_a_path_violation_counts_only_once_it_has_lasted():
    m = monitor()
    off = np.array([0.0, 0.15, 0.0])
    assert m.check_path(off, 1.00) is None
    assert m.check_path(off, 1.19) is None
    v = m.check_path(off, 1.20)
    assert v is not None and v.joint == "elbow" and v.error == pytest.approx(0.15) and v.duration == pytest.approx(0.2)
    assert v.describe() == "path tolerance violated: joint elbow is 0.1500 rad off (tolerance 0.1 rad) for 0.20 s"


def test_a_joint_that_comes_back_starts_over_and_a_zero_tolerance_is_not_enforced():
    m = monitor()
    off, back = np.array([0.15, 0.0, 9.0]), np.zeros(3)  # the wrist has tolerance 0: never judged
    assert m.check_path(off, 0.0) is None
    assert m.check_path(back, 0.15) is None
    assert m.check_path(off, 0.3) is None
    assert m.check_path(off, 0.45) is None, "0.15 s since it left again, not 0.45 s"
    assert m.check_path(off, 0.5).joint == "shoulder"
    m.start()
    assert m.check_path(off, 0.6) is None, "a new trajectory starts over"


def test_the_worst_joint_relative_to_its_tolerance_is_named_and_nan_is_not_judged():
    m = monitor(path=(0.1, 0.3, 0.1), time_s=0.0)
    v = m.check_path(np.array([-0.2, 0.5, np.nan]), 0.0)
    assert v.joint == "shoulder" and v.error == pytest.approx(-0.2)  # 2x its tolerance beats 1.7x


def test_the_goal_tolerance():
    m = monitor()
    assert m.check_goal(np.array([0.04, -0.04, 0.0])) is None
    v = m.check_goal(np.array([0.04, -0.06, np.nan]))
    assert v.kind == "goal" and v.joint == "elbow"
    assert v.describe() == "goal tolerance violated: joint elbow is 0.0600 rad off (tolerance 0.05 rad)"


def test_bad_tolerances_are_refused():
    with pytest.raises(ValueError, match="one value per joint"):
        ToleranceMonitor(NAMES, np.zeros(2), 0.1, np.zeros(3))
    with pytest.raises(ValueError, match=">= 0"):
        ToleranceMonitor(NAMES, np.array([0.1, -0.1, 0.0]), 0.1, np.zeros(3))


def test_the_command_in_force_at_a_measurement_time():
    h = CommandHistory(keep_s=1.0)
    assert h.at(5.0) is None
    for k in range(300):
        h.add(k * 0.02, np.full(3, float(k)))
    assert h.at(5.0)[0] == 250.0 and h.at(5.019)[0] == 250.0 and h.at(99.0)[0] == 299.0
    assert h.at(5.5)[0] == 275.0 and h.at(4.5) is None, "older than keep_s: forgotten"
    assert h.at(-1.0) is None
    assert len(h.sent) <= 52, "only about keep_s of history is kept"


def test_joint_value_entries():
    overrides = parse_joint_values(["elbow:0.2", "ns/wrist_3:1e-2"], "joint_path_tolerance")
    assert overrides == {"elbow": 0.2, "ns/wrist_3": 0.01}
    values, unknown = joint_values(overrides, NAMES, 0.1)
    np.testing.assert_allclose(values, [0.1, 0.2, 0.1])
    assert unknown == ["ns/wrist_3"]
    for bad in (["elbow"], ["elbow:"], [":0.2"], ["elbow:fast"], ["elbow:-1"], ["elbow:nan"], ["a:1", "a:2"]):
        with pytest.raises(ValueError, match="joint_path_tolerance"):
            parse_joint_values(bad, "joint_path_tolerance")
    assert parse_joint_values(["elbow:0"], "joint_path_tolerance") == {"elbow": 0.0}  # a tolerance: not enforced
    with pytest.raises(ValueError, match=r"joint_max_acceleration: entry 'elbow:0' is not joint_name:value with a "
                                         r"finite value > 0"):
        parse_joint_values(["elbow:0"], "joint_max_acceleration", positive=True)  # a limit must be positive
