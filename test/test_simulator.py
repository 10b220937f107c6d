"""ArmSimulator: the servos reach their targets, the block stays put or gets pushed, bad input is refused."""

import subprocess
import sys

import numpy as np
import pytest

from latent_nodes.config import SimConfig
from latent_nodes.sim import arm, kinematics
from latent_nodes.sim.simulator import ArmSimulator


@pytest.fixture(scope="module")
def sim():
    s = ArmSimulator()
    yield s
    s.close()


def test_starts_at_home_at_rest(sim):
    sim.reset()
    np.testing.assert_allclose(sim.joint_positions, arm.HOME)
    np.testing.assert_allclose(sim.joint_velocities, 0.0)
    assert sim.time == 0.0
    np.testing.assert_allclose(sim.block_xy, [np.mean(SimConfig().workspace_x), np.mean(SimConfig().workspace_y)])


def test_holds_home_against_gravity(sim):
    sim.reset()
    sim.step(1.0)
    assert sim.time == pytest.approx(1.0)
    np.testing.assert_allclose(sim.joint_positions, arm.HOME, atol=1e-4)


def test_servos_reach_an_ik_target(sim):
    sim.reset()
    target = np.array([0.55, 0.15, 0.09])
    q = kinematics.inverse_kinematics(target)
    sim.set_targets(q)
    sim.step(1.5)
    np.testing.assert_allclose(sim.joint_positions, q, atol=1e-3)
    assert np.linalg.norm(sim.end_effector_position() - target) < 2e-3
    np.testing.assert_allclose(sim.end_effector_position(), kinematics.forward_kinematics(sim.joint_positions),
                               atol=1e-9)
    assert np.abs(sim.joint_velocities).max() < 1e-2


def test_targets_are_clipped_to_the_joint_limits(sim):
    sim.reset()
    wild = arm.HOME.copy()
    wild[0], wild[7] = 10.0, -1.0
    sim.set_targets(wild)
    assert sim.targets[0] == arm.JOINT_UPPER[0] and sim.targets[7] == arm.JOINT_LOWER[7]


@pytest.mark.parametrize("bad", [np.zeros(7), np.full(9, np.nan), [[0.0] * 9]])
def test_bad_targets_are_refused(sim, bad):
    before = sim.targets
    with pytest.raises(ValueError, match="joint"):
        sim.set_targets(bad)
    np.testing.assert_array_equal(sim.targets, before)


def test_step_carries_fractions_of_a_physics_step(sim):
    sim.reset()
    for _ in range(10):
        sim.step(0.001)  # half a physics step each: nothing may be lost or doubled
    assert sim.time == pytest.approx(0.010, abs=1e-12)
    sim.step(0.0)
    with pytest.raises(ValueError, match="non-negative"):
        sim.step(-0.1)
    with pytest.raises(ValueError):
        sim.step(float("nan"))


def test_block_is_placed_and_stays_put(sim):
    sim.reset()
    sim.set_block(0.42, -0.13)
    np.testing.assert_allclose(sim.block_xy, [0.42, -0.13])
    sim.step(0.5)
    np.testing.assert_allclose(sim.block_xy, [0.42, -0.13], atol=1e-4)
    sim.reset()  # the block goes back to where it was placed, the arm home
    np.testing.assert_allclose(sim.block_xy, [0.42, -0.13])


@pytest.mark.parametrize("xy, match", [((np.nan, 0.0), "finite"), ((0.45, np.inf), "finite"),
                                       ((0.1, 0.0), "off the table"), ((0.5, 0.44), "off the table"),
                                       ((0.9, 0.0), "off the table")])
def test_off_table_or_non_finite_blocks_are_refused(sim, xy, match):
    sim.set_block(0.5, 0.0)
    with pytest.raises(ValueError, match=match):
        sim.set_block(*xy)
    np.testing.assert_allclose(sim.block_xy, [0.5, 0.0])


def test_the_arm_pushes_the_block_it_runs_into(sim):
    """Contacts are on: sweeping the closed fingers through the block moves it (it is not a decoration)."""
    sim.reset()
    sim.set_block(0.45, 0.0)
    q = kinematics.inverse_kinematics([0.45, 0.10, 0.025])
    for t in np.linspace(0.0, 1.0, 101):
        sim.set_targets(q)
        q = kinematics.inverse_kinematics([0.45, 0.10 - 0.2 * t, 0.025], q)
        sim.step(0.02)
    sim.step(0.5)
    assert sim.block_xy[1] < -0.02


def test_physics_is_deterministic():
    def run() -> np.ndarray:
        s = ArmSimulator()
        s.set_targets(kinematics.inverse_kinematics([0.5, -0.1, 0.1]))
        s.step(0.37)
        return np.concatenate([s.joint_positions, s.joint_velocities])

    np.testing.assert_array_equal(run(), run())


def test_the_simulator_never_imports_rclpy():
    code = ("import sys; import latent_nodes.sim.simulator, latent_nodes.sim.demonstrations, "
            "latent_nodes.sim.render, latent_nodes.data.dataset; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('rclpy', 'torch')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
