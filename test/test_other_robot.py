"""Another robot: a 6-joint arm with its own joint names trains, inference speaks its joints, the commander drives it.

Nothing below knows the embedded 9-joint arm: the joint count and names come from the dataset into the
model, and from the model into the completion and the inference node's trajectories; the commander takes
the joints from the first trajectory and their limits from the arm's robot description.
"""

import numpy as np
import pytest

from latent_nodes.data.dataset import Dataset, load_dataset, save_dataset

NAMES = ("shoulder_pan", "shoulder_lift", "elbow", "wrist_1", "wrist_2", "wrist_3")
T = 20


def six_joint_dataset() -> Dataset:
    """A synthetic 6-joint arm: each behaviour's joint paths are smooth functions of the block position."""
    t = np.linspace(0.0, 1.0, T)
    # Its own workspace, on the table but beside the embedded arm's (x 0.35-0.60, y -0.20-0.20 m).
    xs, ys = np.linspace(0.22, 0.40, 4), np.linspace(-0.42, -0.18, 4)
    train = [(x, y) for x in xs for y in ys]
    test = [((a + b) / 2, (c + d) / 2) for a, b in zip(xs[:-1], xs[1:]) for c, d in zip(ys[:-1], ys[1:])]
    seqs, labels, xys, split = [], [], [], []
    for b in (0, 1):
        for name, positions in (("train", train), ("test", test)):
            for x, y in positions:
                bump = np.sin(np.pi * t) if b == 0 else np.sin(2 * np.pi * t) * np.sin(np.pi * t)
                q = np.stack([np.arctan2(y, x) * bump, (x - 0.2) * 2 * bump, -(x - 0.2) * 3 * bump,
                              0.5 * y * bump, 0.2 * bump, (0.3 * b + y) * bump], axis=1)
                seqs.append(np.concatenate([q, np.tile([x, y], (T, 1))], axis=1))
                labels.append(b)
                xys.append((x, y))
                split.append(name)
    return Dataset(sequences=np.array(seqs), labels=np.array(labels), block_xy=np.array(xys), split=np.array(split),
                   joint_names=NAMES, behaviour_names=("reach", "reach_circle"), dt=0.1,
                   settings={"generator": "test_other_robot"})


@pytest.fixture(scope="module")
def six_joint_model(tmp_path_factory):
    """Trained as ``latent-nodes train`` trains (trainer_for_dataset, to_checkpoint), small and briefly."""
    import torch

    from latent_nodes.config import Config
    from latent_nodes.model.checkpoint import save_checkpoint
    from latent_nodes.model.training import to_checkpoint, trainer_for_dataset

    tmp = tmp_path_factory.mktemp("six")
    save_dataset(six_joint_dataset(), tmp / "six.npz")
    ds = load_dataset(tmp / "six.npz")
    cfg = Config()
    cfg.model.layer_sizes, cfg.train.batch_size, cfg.train.lr = [32, 16, 8], 32, 1e-2
    assert cfg.model.output_dim == 11  # the embedded arm's, until the dataset says otherwise
    trainer, normalizer = trainer_for_dataset(cfg, ds)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a small model on a shared CPU: more threads only wait on each other
    try:
        trainer.fit(150)
    finally:
        torch.set_num_threads(threads)
    save_checkpoint(tmp / "model.pt", to_checkpoint(trainer, normalizer, ds))
    return tmp / "model.pt", ds


def test_a_six_joint_arm_trains_and_completes_with_its_own_joints(six_joint_model):
    from latent_nodes.inference.completion import BehaviourCompleter

    path, ds = six_joint_model
    completer = BehaviourCompleter.from_checkpoint(path)
    assert completer.joint_names == NAMES
    assert completer.config.model.output_dim == 8 and list(completer.config.model.perception_dims) == [6, 7]
    test = ds.test()
    errors = []
    for seq, label, xy in zip(test.sequences, test.labels, test.block_xy):
        done = completer.complete(xy, ds.behaviour_names[label])
        assert done.joints.shape == (T, 6)
        errors.append(np.sqrt(np.mean((done.joints - seq[:, :6]) ** 2)))
    # Learned, not merely shaped right: far closer to the demonstrations than their mean path is.
    mean_path = ds.train().sequences[:, :, :6].mean(axis=0)
    baseline = np.mean([np.sqrt(np.mean((mean_path - s[:, :6]) ** 2)) for s in test.sequences])
    print(f"six-joint arm: completion RMS {np.mean(errors):.4f} rad, mean path {baseline:.4f} rad")
    assert np.mean(errors) < 0.5 * baseline, (np.mean(errors), baseline)


# Limits of the 6-joint arm's robot description: the elbow's upper limit and the speed bind the test's motion.
UPPER, ELBOW_UPPER, VELOCITY = 1.0, 0.3, 0.5


def six_joint_urdf() -> str:
    """The 6-joint arm as a serial chain of revolute joints, each with its <limit>."""
    links = [f'<link name="link_{i}"/>' for i in range(len(NAMES) + 1)]
    joints = [f'<joint name="{name}" type="revolute"><parent link="link_{i}"/><child link="link_{i + 1}"/>'
              f'<axis xyz="0 0 1"/><limit lower="{-UPPER}" upper="{ELBOW_UPPER if name == "elbow" else UPPER}" '
              f'effort="10" velocity="{VELOCITY}"/></joint>' for i, name in enumerate(NAMES)]
    return f'<robot name="six_joint_arm">{"".join(links + joints)}</robot>'


class DescriptionPublisher:
    """The 6-joint arm's URDF on /robot_description from the probe, latched as the sim node offers its own."""

    def __init__(self, g) -> None:
        from rclpy.qos import DurabilityPolicy, QoSProfile
        from std_msgs.msg import String

        from latent_nodes.nodes import messages

        self.message = String(data=six_joint_urdf())
        self.pub = g.probe.create_publisher(String, messages.ROBOT_DESCRIPTION,
                                            QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL))

    def publish(self) -> None:
        self.pub.publish(self.message)


class SixJointArm:
    """A stand-in for the 6-joint arm's driver: /joint_states at 100 Hz, following /joint_command exactly."""

    def __init__(self, g) -> None:
        from sensor_msgs.msg import JointState

        from latent_nodes.nodes import messages

        self.q = np.zeros(len(NAMES))
        self.states = g.publisher(JointState, messages.JOINT_STATES)
        g.probe.create_subscription(JointState, messages.JOINT_COMMAND, self.on_command, 10)
        g.probe.create_timer(0.01, lambda: self.states.publish(messages.joint_state(NAMES, self.q)))

    def on_command(self, msg) -> None:
        from latent_nodes.nodes import messages

        self.q = messages.joint_positions(msg, NAMES)


def test_the_inference_node_publishes_the_six_joints_and_the_commander_executes_them(six_joint_model):
    """Inference starts (its warm-up pose lies in this arm's workspace) and speaks the model's joints; the
    commander, given the arm's description, executes them on the stand-in arm.
    """
    pytest.importorskip("rclpy")
    from geometry_msgs.msg import PoseStamped
    from ros_harness import Graph

    from latent_nodes.nodes import messages
    from latent_nodes.nodes.commander_node import CommanderNode
    from latent_nodes.nodes.inference_node import InferenceNode

    path, _ = six_joint_model
    with Graph() as graph:
        graph.add(InferenceNode, model_path=str(path))
        graph.add(CommanderNode, settle_s=0.1)
        SixJointArm(graph)
        description = DescriptionPublisher(graph)
        description.publish()
        pub = graph.publisher(PoseStamped, messages.BLOCK_POSE)
        graph.start()
        graph.wait_for_subscribers(pub)
        assert graph.wait(lambda: (pub.publish(messages.block_pose((0.3, -0.3), "table")) or
                                   graph.probe.count(messages.COMPLETED_BEHAVIOUR) > 0), timeout=20.0)
        trajectory = graph.probe.last(messages.COMPLETED_BEHAVIOUR)
        assert graph.wait(lambda: graph.probe.count(messages.TRACKING_ERROR) > 0, timeout=15.0), "executed"
        command = graph.probe.last(messages.JOINT_COMMAND)
    assert list(trajectory.joint_names) == list(NAMES)
    assert len(trajectory.points) == T and all(len(p.positions) == 6 for p in trajectory.points)
    assert list(command.name) == list(NAMES) and np.all(np.isfinite(command.position))


def test_the_commander_drives_a_six_joint_arm_within_its_description_and_refuses_joints_without_limits():
    """Real DDS: refused without a description and for a joint it lacks (nothing sent), then executed."""
    pytest.importorskip("rclpy")
    from rcl_interfaces.msg import Log
    from ros_harness import Graph
    from trajectory_msgs.msg import JointTrajectory

    from latent_nodes.nodes import messages
    from latent_nodes.nodes.commander_node import CommanderNode
    from latent_nodes.sim import arm

    target = np.full((20, len(NAMES)), 0.6)  # beyond the elbow's upper limit; 2 s, time to get there
    with Graph() as g:
        commander = g.add(CommanderNode, settle_s=0.1)
        SixJointArm(g)
        trajectory = g.publisher(JointTrajectory, messages.COMPLETED_BEHAVIOUR)
        description = DescriptionPublisher(g)
        g.start()
        g.wait_for_subscribers(trajectory)
        assert g.wait(lambda: commander.last_joint_state is not None)

        def refused(names: list[str], expected: str) -> None:
            before = len(g.probe.logs("commander", Log.ERROR))
            trajectory.publish(messages.joint_trajectory(names, target[:, :len(names)], 0.1))
            assert g.wait(lambda: len(g.probe.logs("commander", Log.ERROR)) > before)
            new = g.probe.logs("commander", Log.ERROR)[before:]
            assert len(new) == 1 and "refusing trajectory, nothing sent" in new[0] and expected in new[0], new

        refused(list(NAMES), "no /robot_description has arrived")
        description.publish()
        assert g.wait(lambda: commander.description is not None)
        refused([*NAMES[:5], "wrist_4"], "robot description has no joint 'wrist_4'")
        assert not g.wait(lambda: g.probe.count(messages.JOINT_COMMAND) > 0, timeout=0.3), "nothing sent"

        trajectory.publish(messages.joint_trajectory(list(NAMES), target, 0.1))
        assert g.wait(lambda: g.probe.count(messages.TRACKING_ERROR) == 1, timeout=10.0)
        commands = list(g.probe.got[messages.JOINT_COMMAND])
        # The joint set is now the 6-joint arm's: the embedded arm's joints are refused.
        refused(list(arm.JOINT_NAMES), "9 joint names, the arm has 6")

    assert all(list(m.name) == list(NAMES) for m in commands)
    q = np.array([m.position for m in commands])
    upper = np.where(np.array(NAMES) == "elbow", ELBOW_UPPER, UPPER)
    assert np.all(q <= upper + 1e-9) and np.allclose(q[-1], np.minimum(0.6, upper)), q[-1]
    # The description's velocity limit, not the commander's 2 rad/s cap: 0.6 rad takes 1.2 s, not 0.3 s.
    steps = np.abs(np.diff(q, axis=0))
    assert np.all(steps <= VELOCITY * 3.0 / commander.settings.command_rate + 1e-9), steps.max()
    stamps = np.array([m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 for m in commands])
    arrived = stamps[np.argmax(q[:, 0] >= 0.6 - 1e-9)] - stamps[0]
    assert 0.6 / VELOCITY - 0.1 <= arrived <= 0.6 / VELOCITY + 0.5, arrived
    assert np.isfinite(g.probe.last(messages.TRACKING_ERROR).data)


def test_the_ros2_control_target_sends_a_six_joint_arm_its_own_joints_within_its_description():
    """target ros2_control with model_joints: the 6 joints reach a stand-in joint_trajectory_controller (which
    rejects what the real one rejects) under their own names, timed within the description's limits.
    """
    pytest.importorskip("rclpy")
    from ros_harness import Graph
    from sensor_msgs.msg import JointState
    from trajectory_controller_stand_in import ControllerRules, StandInTrajectoryController
    from trajectory_msgs.msg import JointTrajectory

    from latent_nodes.nodes import messages
    from latent_nodes.nodes.commander_node import CommanderNode
    from latent_nodes.robot.joint_trajectory import SplineTrajectory

    target = np.full((20, len(NAMES)), 0.6)  # beyond the elbow's upper limit
    with Graph() as g:
        commander = g.add(CommanderNode, target="ros2_control", model_joints=list(NAMES),
                          gripper_controller_topic="")  # gripper_joints' default names fingers it lacks
        controller = StandInTrajectoryController(g.context, "arm_controller", ControllerRules(NAMES),
                                                 np.zeros(len(NAMES)))
        g.nodes.append(controller)
        g.executor.add_node(controller)
        states = g.publisher(JointState, messages.JOINT_STATES)
        g.probe.create_timer(0.01, lambda: states.publish(messages.joint_state(NAMES, controller.state()[0])))
        description = DescriptionPublisher(g)
        description.publish()
        trajectory = g.publisher(JointTrajectory, messages.COMPLETED_BEHAVIOUR)
        g.start()
        g.wait_for_subscribers(trajectory)
        assert g.wait(lambda: commander.measured is not None)
        assert g.wait(lambda: (trajectory.publish(messages.joint_trajectory(list(NAMES), target, 0.1))
                               or controller.accepted or controller.rejected), timeout=10.0)
        assert not controller.rejected, controller.rejected
        msg = controller.accepted[0]
    assert list(msg.joint_names) == list(NAMES)
    t = np.array([messages.duration_to_seconds(p.time_from_start) for p in msg.points])
    q, v = (np.array([list(getattr(p, k)) for p in msg.points]) for k in ("positions", "velocities"))
    upper = np.where(np.array(NAMES) == "elbow", ELBOW_UPPER, UPPER)
    assert np.all(q <= upper + 1e-9) and np.allclose(q[-1], np.minimum(0.6, upper))
    spline = SplineTrajectory(np.concatenate([[0.0], t]), np.vstack([np.zeros(len(NAMES)), q]),
                              np.vstack([np.zeros(len(NAMES)), v]))
    assert np.abs(spline.sample(np.linspace(0, t[-1], 4001))[1]).max() <= VELOCITY * (1 + 1e-5)


def test_a_republished_description_replaces_the_fixed_joints_limits_and_an_unreadable_one_refuses():
    """One rule for a new /robot_description once the joints are fixed (robot_description.DescriptionLimits):
    a readable one's limits hold from the next trajectory on; after an unreadable one nothing is sent until
    a readable one arrives. Each is said once, on receipt.
    """
    pytest.importorskip("rclpy")
    from rcl_interfaces.msg import Log
    from ros_harness import Graph
    from std_msgs.msg import String
    from trajectory_msgs.msg import JointTrajectory

    from latent_nodes.nodes import messages
    from latent_nodes.nodes.commander_node import CommanderNode

    with Graph() as g:
        commander = g.add(CommanderNode, settle_s=1.0)  # 0.5 rad at 0.2 rad/s outlasts the 2 s plan
        arm = SixJointArm(g)
        trajectory = g.publisher(JointTrajectory, messages.COMPLETED_BEHAVIOUR)
        description = DescriptionPublisher(g)
        description.publish()
        g.start()
        g.wait_for_subscribers(trajectory)
        assert g.wait(lambda: commander.last_joint_state is not None and commander.description is not None)

        def execute(goal: float) -> np.ndarray:
            """Send a trajectory to ``goal`` on every joint; the commands sent for it."""
            done, sent_at = g.probe.count(messages.TRACKING_ERROR), commander.get_clock().now().nanoseconds
            trajectory.publish(messages.joint_trajectory(list(NAMES), np.full((20, len(NAMES)), goal), 0.1))
            assert g.wait(lambda: g.probe.count(messages.TRACKING_ERROR) > done, timeout=10.0), \
                g.probe.logs("commander")
            with g.probe.lock:  # in send order; a command of the trajectory before may arrive after ours
                sent = sorted(g.probe.got[messages.JOINT_COMMAND], key=lambda m: (m.header.stamp.sec,
                                                                                  m.header.stamp.nanosec))
            return [m for m in sent if m.header.stamp.sec * 10**9 + m.header.stamp.nanosec > sent_at]

        def fastest(commands) -> float:
            """The highest joint speed between the commands' send times (their stamps)."""
            q = np.array([m.position for m in commands])
            t = np.array([m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 for m in commands])
            return float((np.abs(np.diff(q, axis=0)).max(axis=1) / np.diff(t)).max())

        assert fastest(execute(0.25)) == pytest.approx(VELOCITY, rel=0.02)  # the first description's limit
        assert commander.joints_fixed and commander.names == list(NAMES)
        description.pub.publish(String(data=six_joint_urdf().replace(f'velocity="{VELOCITY}"', 'velocity="0.2"')))
        assert g.wait(lambda: any("/robot_description replaced: the limits of" in m
                                  for m in g.probe.logs("commander")))
        assert fastest(execute(-0.25)) == pytest.approx(0.2, rel=0.02)  # the new description's limit

        errors = len(g.probe.logs("commander", Log.ERROR))
        description.pub.publish(String(data="<robot name='broken'><joint name="))
        assert g.wait(lambda: len(g.probe.logs("commander", Log.ERROR)) == errors + 1)
        assert "/robot_description cannot be read" in g.probe.logs("commander", Log.ERROR)[-1]
        before = g.probe.count(messages.JOINT_COMMAND)
        trajectory.publish(messages.joint_trajectory(list(NAMES), np.full((20, len(NAMES)), 0.25), 0.1))
        assert g.wait(lambda: len(g.probe.logs("commander", Log.ERROR)) == errors + 2)
        line = g.probe.logs("commander", Log.ERROR)[-1]
        assert "refusing trajectory, nothing sent" in line and "could not be read" in line, line
        assert not g.wait(lambda: g.probe.count(messages.JOINT_COMMAND) > before, timeout=0.3), "nothing sent"
        assert np.allclose(arm.q, -0.25)

        description.publish()  # readable again: executed within its limits
        assert g.wait(lambda: any("/robot_description replaced: the limits of" in m
                                  for m in g.probe.logs("commander")[-3:]))
        assert fastest(execute(0.0)) == pytest.approx(VELOCITY, rel=0.02)
