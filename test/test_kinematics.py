"""Forward and inverse kinematics of the fingertip centre against geometry worked out by hand."""

import numpy as np
import pytest

from latent_nodes.config import DataConfig, SimConfig
from latent_nodes.sim import arm, kinematics

# Stated tolerance of the inverse kinematics (docs/simulator.md): the solver iterates to 0.1 mm; every
# target the demonstrations use must come out within 0.5 mm and 0.01 rad of the gripper pointing down.
IK_POSITION_TOL = 5e-4
IK_ORIENTATION_TOL = 1e-2


def planar_fk(q: np.ndarray) -> np.ndarray:
    """The S-R-S chain with all roll joints at zero: pitches add up in the arm's vertical plane."""
    a2, a4, a6 = q[1], q[1] + q[3], q[1] + q[3] + q[5]
    reach = arm.UPPER_ARM * np.sin(a2) + arm.FOREARM * np.sin(a4) + arm.HAND * np.sin(a6)
    height = arm.SHOULDER_HEIGHT + arm.UPPER_ARM * np.cos(a2) + arm.FOREARM * np.cos(a4) + arm.HAND * np.cos(a6)
    return np.array([reach * np.cos(q[0]), reach * np.sin(q[0]), height])


def test_joint_tables_agree():
    assert len(arm.JOINT_NAMES) == 9 and len(set(arm.JOINT_NAMES)) == 9
    assert arm.JOINT_NAMES[:7] == tuple(f"arm_joint_{i}" for i in range(1, 8))
    assert arm.JOINT_NAMES[7:] == ("finger_joint_left", "finger_joint_right")
    for table in (arm.JOINT_LOWER, arm.JOINT_UPPER, arm.MAX_VELOCITY, arm.HOME):
        assert table.shape == (9,) and not table.flags.writeable
    assert np.all(arm.JOINT_LOWER < arm.JOINT_UPPER)
    assert np.all((arm.MAX_VELOCITY > 0.5) & (arm.MAX_VELOCITY < 4.0))  # rad/s, a real arm's range
    assert np.all((arm.JOINT_LOWER <= arm.HOME) & (arm.HOME <= arm.JOINT_UPPER))


def test_fk_straight_up_is_the_sum_of_the_links():
    tip = kinematics.forward_kinematics(np.zeros(9))
    np.testing.assert_allclose(tip, [0, 0, arm.SHOULDER_HEIGHT + arm.UPPER_ARM + arm.FOREARM + arm.HAND], atol=1e-9)


def test_fk_matches_the_planar_chain():
    rng = np.random.default_rng(1)
    for _ in range(20):
        q = np.zeros(9)
        q[[0, 1, 3, 5]] = rng.uniform(arm.JOINT_LOWER[[0, 1, 3, 5]], arm.JOINT_UPPER[[0, 1, 3, 5]])
        q[7:] = rng.uniform(0, 0.6, 2)  # fingers do not move the fingertip centre
        np.testing.assert_allclose(kinematics.forward_kinematics(q), planar_fk(q), atol=1e-9)


def test_home_points_the_gripper_down_over_the_table():
    pos, rot = kinematics.forward_pose(arm.HOME)
    np.testing.assert_allclose(rot, kinematics.DOWN, atol=1e-3)
    cfg = SimConfig()
    assert cfg.table_x[0] < pos[0] < cfg.table_x[1] and abs(pos[1]) < 1e-9 and 0.15 < pos[2] < 0.4


def test_jacobian_matches_finite_differences():
    q = arm.HOME + np.r_[0.3, 0.2, -0.4, -0.3, 0.5, -0.2, 0.7, 0, 0]
    jacp, jacr = kinematics.jacobian(q)
    eps = 1e-6
    for j in range(7):
        dq = np.zeros(9)
        dq[j] = eps
        numeric = (kinematics.forward_kinematics(q + dq) - kinematics.forward_kinematics(q - dq)) / (2 * eps)
        np.testing.assert_allclose(jacp[:, j], numeric, atol=1e-6)
    assert jacr.shape == (3, 7)


def workspace_targets() -> np.ndarray:
    """Every fingertip target a demonstration can ask for.

    Hover points over the workspace's corners, edges and centre, and circle points around them (radius
    beyond the largest perturbation), at the lowest and highest hover heights.
    """
    sim, data = SimConfig(), DataConfig()
    r = data.circle_radius + data.perturbation
    ring = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    targets = []
    for x in np.linspace(*sim.workspace_x, 3):
        for y in np.linspace(*sim.workspace_y, 3):
            for z in (sim.block_size + 0.02, sim.block_size + data.hover_height + 0.02):
                targets.append([x, y, z])
                targets += [[x + r * np.cos(a), y + r * np.sin(a), z] for a in ring]
    return np.array(targets)


def test_ik_reaches_every_demonstration_target_with_the_gripper_down():
    targets = workspace_targets()
    q = arm.HOME
    for target in targets:
        q = kinematics.inverse_kinematics(target, q)
        pos, rot = kinematics.forward_pose(q)
        assert np.linalg.norm(pos - target) < IK_POSITION_TOL, target
        assert np.linalg.norm(kinematics.orientation_error(rot, kinematics.DOWN)) < IK_ORIENTATION_TOL, target
        assert np.all(q >= arm.JOINT_LOWER + kinematics.LIMIT_MARGIN - 1e-12)
        assert np.all(q <= arm.JOINT_UPPER - kinematics.LIMIT_MARGIN + 1e-12)


def test_ik_from_home_position_only_and_keeps_the_fingers():
    q0 = arm.HOME.copy()
    q0[7:] = [0.3, 0.4]
    target = np.array([0.55, -0.15, 0.20])
    q = kinematics.inverse_kinematics(target, q0, orientation=None)
    assert np.linalg.norm(kinematics.forward_kinematics(q) - target) < IK_POSITION_TOL
    np.testing.assert_array_equal(q[7:], [0.3, 0.4])


def test_ik_out_of_reach_is_a_clear_error():
    with pytest.raises(kinematics.IKError, match="could not reach"):
        kinematics.inverse_kinematics([1.4, 0.0, 0.1])
    best = kinematics.inverse_kinematics([1.4, 0.0, 0.1], max_error=None)  # best effort, no error
    assert np.linalg.norm(kinematics.forward_kinematics(best) - [1.4, 0, 0.1]) > 0.1


@pytest.mark.parametrize("bad", [[np.nan, 0, 0.1], [0.4, 0.0], "x"])
def test_ik_rejects_bad_targets(bad):
    with pytest.raises(ValueError):
        kinematics.inverse_kinematics(bad)


def test_fk_rejects_bad_joint_vectors():
    with pytest.raises(ValueError, match="9 joint angles"):
        kinematics.forward_kinematics(np.zeros(7))
    with pytest.raises(ValueError, match="finite"):
        kinematics.forward_kinematics(np.full(9, np.inf))
