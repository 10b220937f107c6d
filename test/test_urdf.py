"""The URDF describes the simulated arm: same joints, limits and kinematics as MuJoCo's model.

Forward kinematics of the URDF is computed by ``yourdfpy`` (an independent URDF reader, in the test
extras), never by MuJoCo, and compared with MuJoCo's fingertip site and body frames.
"""

import io
import subprocess
import sys

import mujoco
import numpy as np
import pytest

from latent_nodes.sim import arm, kinematics
from latent_nodes.sim.urdf import build_urdf

yourdfpy = pytest.importorskip("yourdfpy", reason="pip install yourdfpy (test extra) to read URDFs")


def load(text: str):
    return yourdfpy.URDF.load(io.StringIO(text), load_meshes=False, build_collision_scene_graph=False)


@pytest.fixture(scope="module")
def robot():
    return load(build_urdf())


@pytest.fixture(scope="module")
def mj():
    model = mujoco.MjModel.from_xml_string(arm.build_mjcf())
    return model, mujoco.MjData(model)


def test_joint_names_axes_and_limits_are_the_arms(robot, mj):
    model, _ = mj
    assert robot.validate()
    assert robot.base_link == "table"
    assert robot.actuated_joint_names == list(arm.JOINT_NAMES)
    for i, name in enumerate(arm.JOINT_NAMES):
        joint = robot.joint_map[name]
        assert joint.type == "revolute"
        np.testing.assert_allclose([joint.limit.lower, joint.limit.upper], model.joint(name).range, atol=1e-12)
        np.testing.assert_allclose([joint.limit.lower, joint.limit.upper], [arm.JOINT_LOWER[i], arm.JOINT_UPPER[i]])
        np.testing.assert_allclose(joint.axis, model.joint(name).axis, atol=1e-12)
        assert joint.limit.velocity == pytest.approx(arm.MAX_VELOCITY[i])
        assert joint.limit.effort == pytest.approx(arm.MAX_TORQUE[i])
        assert float(joint.dynamics.damping) == pytest.approx(model.dof_damping[model.joint(name).dofadr[0]])
    assert arm.EE_SITE in robot.link_map


def test_masses_and_inertias_are_mujocos(robot, mj):
    model, _ = mj
    for link in arm.LINKS:
        inertial, body = robot.link_map[link.name].inertial, model.body(link.name)
        assert inertial.mass == pytest.approx(body.mass[0], rel=1e-8)
        np.testing.assert_allclose(inertial.origin[:3, 3], body.ipos, atol=1e-9)
        # Same principal moments: the tensor's eigenvalues are MuJoCo's diagonal inertia.
        np.testing.assert_allclose(np.sort(np.linalg.eigvalsh(inertial.inertia)), np.sort(body.inertia), rtol=1e-6)
    total = sum(robot.link_map[link.name].inertial.mass for link in arm.LINKS)
    assert total == pytest.approx(model.body("base_link").subtreemass[0])


def test_forward_kinematics_agrees_with_mujoco_within_a_millimetre(robot, mj):
    model, data = mj
    rng = np.random.default_rng(7)
    qadr = [model.joint(name).qposadr[0] for name in arm.JOINT_NAMES]
    worst_tip, worst_frame, worst_rot = 0.0, 0.0, 0.0
    for _ in range(200):
        q = rng.uniform(arm.JOINT_LOWER, arm.JOINT_UPPER)
        robot.update_cfg(dict(zip(arm.JOINT_NAMES, q)))
        tip = robot.get_transform(arm.EE_SITE, "table")
        position, rotation = kinematics.forward_pose(q)  # MuJoCo's fingertip site
        worst_tip = max(worst_tip, np.linalg.norm(tip[:3, 3] - position))
        worst_rot = max(worst_rot, np.abs(tip[:3, :3] - rotation).max())
        data.qpos[qadr] = q
        mujoco.mj_kinematics(model, data)
        for link in arm.LINKS:
            frame = robot.get_transform(link.name, "table")
            worst_frame = max(worst_frame, np.linalg.norm(frame[:3, 3] - data.xpos[model.body(link.name).id]))
            worst_rot = max(worst_rot, np.abs(frame[:3, :3] - data.xmat[model.body(link.name).id].reshape(3, 3)).max())
    assert worst_tip < 1e-3, f"fingertip off by {worst_tip * 1e3:.3f} mm"
    assert worst_frame < 1e-3, f"a link frame off by {worst_frame * 1e3:.3f} mm"
    assert worst_rot < 1e-6, f"orientations differ by {worst_rot:.2e}"


def test_home_fingertip_is_where_the_docs_say(robot):
    robot.update_cfg(dict(zip(arm.JOINT_NAMES, arm.HOME)))
    np.testing.assert_allclose(robot.get_transform(arm.EE_SITE, "table")[:3, 3], [0.40, 0.0, 0.24], atol=5e-3)


def test_root_frame_is_configurable():
    assert load(build_urdf(root_frame="world")).base_link == "world"
    assert load(build_urdf(root_frame=None)).base_link == "base_link"
    with pytest.raises(ValueError, match="link_3"):
        build_urdf(root_frame="link_3")


def test_cli_prints_and_writes_the_same_urdf(tmp_path):
    cmd = [sys.executable, "-m", "latent_nodes.cli", "urdf"]
    printed = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    assert printed == build_urdf()
    out = tmp_path / "arm.urdf"
    done = subprocess.run(cmd + ["-o", str(out)], capture_output=True, text=True)
    assert done.returncode == 0 and out.read_text() == printed
    assert [p.name for p in tmp_path.iterdir()] == ["arm.urdf"], "no temporary file left behind"
    blocked = tmp_path / "file"
    blocked.write_text("x")
    bad = subprocess.run(cmd + ["-o", str(blocked / "arm.urdf")], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.startswith("latent-nodes urdf: cannot write")
    assert len(bad.stderr.strip().splitlines()) == 1 and blocked.read_text() == "x"


def test_late_subscriber_receives_the_description():
    from rclpy.qos import QoSDurabilityPolicy, QoSProfile
    from ros_harness import Graph
    from std_msgs.msg import String

    from latent_nodes.nodes import messages
    from latent_nodes.nodes.sim_node import SimNode

    with Graph() as g:
        g.add(SimNode)
        g.start()
        # The sim published its description in its constructor; by the time /joint_states flows, a new
        # subscriber is a late joiner.
        assert g.wait(lambda: g.probe.count(messages.JOINT_STATES) > 5)
        got, volatile = [], []
        g.probe.create_subscription(String, messages.ROBOT_DESCRIPTION, got.append,
                                    QoSProfile(depth=1, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL))
        g.probe.create_subscription(String, messages.ROBOT_DESCRIPTION, volatile.append, QoSProfile(depth=1))
        assert g.wait(lambda: len(got) == 1), "a transient-local subscriber gets the description late"
        assert got[0].data == build_urdf(root_frame="table")
        assert not g.wait(lambda: len(volatile) > 0, timeout=1.0), "published once, at start-up, not repeatedly"
