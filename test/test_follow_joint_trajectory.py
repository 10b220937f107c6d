"""The commander's FollowJointTrajectory path (``target: ros2_control``, ``trajectory_interface: action``).

Over real DDS against an rclpy ActionServer of ``control_msgs/action/FollowJointTrajectory`` that plays a
joint_trajectory_controller (``ActionController`` below): it accepts or rejects a goal as the real
controller does (``goal_received_callback``, joint_trajectory_controller.cpp kilted L1397-1417, with the
message checks of ``trajectory_controller_stand_in.rejection``), preempts a running goal when a new one is
accepted (``preempt_active_goal`` L1820-1833), holds on a cancel (L1419-1449), executes the trajectory as
the stand-in samples it, sends feedback, and ends the goal with the controller's result codes and strings
(L473-535; control_msgs FollowJointTrajectory.action L33-49). Each test makes it end a goal one way
(succeed, reject, abort, never answer, no server) and checks how the commander counts, logs and reports
it on ``/diagnostics``: only a goal that succeeded counts as executed.

control_msgs is not among the ROS 2 wheels on PyPI: ``./run`` installs it from ``LATENT_NODES_INTERFACES``
(CI: ``../shared/ros2-interfaces``), where its absence is an error; elsewhere these tests are skipped
without it.
"""

from __future__ import annotations

import itertools
import os
import re
import threading
import time

import numpy as np
import pytest

if os.environ.get("LATENT_NODES_INTERFACES"):  # installed on purpose (./run, CI): it must import
    import control_msgs.action  # noqa: F401
else:
    pytest.importorskip("control_msgs.action", reason="control_msgs is not installed here (docs/nodes.md)")

from action_msgs.msg import GoalStatus  # noqa: E402 - after the skip
from control_msgs.action import FollowJointTrajectory  # noqa: E402
from diagnostic_msgs.msg import DiagnosticStatus  # noqa: E402
from rclpy.action import ActionServer, CancelResponse, GoalResponse  # noqa: E402
from rclpy.callback_groups import ReentrantCallbackGroup  # noqa: E402
from rclpy.executors import MultiThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402
from ros_harness import Graph  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402
from trajectory_controller_stand_in import ControllerRules, Execution, rejection  # noqa: E402
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint  # noqa: E402

from latent_nodes.nodes import messages  # noqa: E402
from latent_nodes.nodes.commander_node import CommanderNode  # noqa: E402
from latent_nodes.sim import arm  # noqa: E402

NAMES = list(arm.JOINT_NAMES)
ARM = NAMES[:7]
HOME = np.asarray(arm.HOME, dtype=np.float64)
# One action name per test: a server of the test before, its participant not yet gone from discovery,
# must not be taken for this test's (or its absence for this one's).
ACTIONS = (f"/arm_controller_{k}/follow_joint_trajectory" for k in itertools.count())
TIMEOUT_S = 1.0  # the commander's action_timeout_s in these tests
LINE = re.compile(r"^\[(\w+)\] \[[\d.]+\] \[commander\]: (.*)$")  # the console's form of a log line
Result = FollowJointTrajectory.Result


class ActionController(Node):
    """A joint_trajectory_controller's action interface over an ideally tracked arm, and its /joint_states.

    ``active``: a controller that is not active rejects every goal (L1403-1408). ``abort_after_s``: the
    running goal is aborted that long after it started, as on a path tolerance violation (L473-496).
    ``finish``: False keeps a goal running past its end without a result, as the controller does while its
    goal tolerance is not met and goal_time is 0 (L391-411). ``serve``: False offers no action at all.

    Like the controller, it runs on threads of its own (its executor): a goal executes while goals,
    cancels and the state publishing go on.
    """

    def __init__(self, context, action: str, active: bool = True, abort_after_s: float | None = None,
                 finish: bool = True, serve: bool = True) -> None:
        super().__init__("arm_controller", context=context)
        self.rules = ControllerRules(tuple(ARM))
        self.active, self.abort_after_s, self.finish = active, abort_after_s, finish
        self.lock = threading.Lock()
        self.hold = HOME[:7].copy()
        self.execution: Execution | None = None
        self.running = None  # the goal handle executing now
        self.goals: list[JointTrajectory] = []  # accepted goals' trajectories
        self.rejected: list[str] = []
        self.cancels = 0
        self.ended: list[tuple[int, int, str]] = []  # (status, error_code, error_string) per goal ended
        self.closing = False
        self.states = self.create_publisher(JointState, messages.JOINT_STATES, 10)
        group = ReentrantCallbackGroup()
        if serve:
            self.server = ActionServer(self, FollowJointTrajectory, action, execute_callback=self.execute,
                                       goal_callback=self.on_goal, handle_accepted_callback=self.on_accepted,
                                       cancel_callback=self.on_cancel, callback_group=group)
        self.create_timer(0.01, self.tick, callback_group=group)
        self.executor_ = MultiThreadedExecutor(num_threads=4, context=context)
        self.executor_.add_node(self)
        self.spinner = threading.Thread(target=self.executor_.spin, daemon=True)
        self.spinner.start()

    def close(self) -> None:
        """Stop its executor (the graph calls this before destroying the node); a goal still running ends."""
        self.closing = True
        self.executor_.shutdown(timeout_sec=2.0)
        self.spinner.join(timeout=5.0)

    def now_ns(self) -> int:
        return self.get_clock().now().nanoseconds

    def state(self, t_ns: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        with self.lock:
            if self.execution is None:
                return self.hold.copy(), np.zeros(7)
            return self.execution.sample(self.now_ns() if t_ns is None else t_ns)

    def hold_here(self) -> None:
        """set_hold_position (L1836-1845): command the position the arm is at and keep it."""
        q, _ = self.state()
        with self.lock:
            self.execution, self.hold = None, q

    def tick(self) -> None:
        """/joint_states stamped when the arm was there, as a joint_state_broadcaster stamps what it read."""
        now = self.get_clock().now()
        self.states.publish(messages.joint_state(ARM, self.state(now.nanoseconds)[0], stamp=now.to_msg()))

    # --- the action server's callbacks, in the controller's order ---------------------------------------

    def on_goal(self, goal) -> GoalResponse:
        if not self.active:
            problem = "Can't accept new action goals. Controller is not running."
        else:
            problem = rejection(goal.trajectory, self.rules, self.now_ns())
        if problem is not None:
            self.get_logger().error(problem)
            self.rejected.append(problem)
            return GoalResponse.REJECT
        return GoalResponse.ACCEPT

    def on_accepted(self, handle) -> None:
        """goal_accepted_callback (L1451-1487): the running goal is preempted, the new one starts."""
        self.running = handle  # the running goal, if any, sees it is no longer the one and aborts
        msg = handle.request.trajectory
        now = self.now_ns()
        positions, velocities = self.state(now)
        with self.lock:
            self.execution = Execution(msg, self.rules, now, positions, velocities)
            self.goals.append(msg)
        handle.execute()

    def on_cancel(self, handle) -> CancelResponse:
        self.cancels += 1
        return CancelResponse.ACCEPT

    def end(self, handle, how: str, code: int = 0, text: str = "") -> Result:
        getattr(handle, how)()
        result = Result(error_code=code, error_string=text)
        self.ended.append(({"succeed": GoalStatus.STATUS_SUCCEEDED, "abort": GoalStatus.STATUS_ABORTED,
                            "canceled": GoalStatus.STATUS_CANCELED}[how], code, text))
        return result

    def execute(self, handle) -> Result:
        started = self.now_ns()
        with self.lock:
            end_ns = self.execution.start_ns + int(self.execution.times_ns[-1])
        while True:
            time.sleep(0.01)
            if self.closing:
                return self.end(handle, "abort", Result.INVALID_GOAL, "Current goal cancelled during deactivate "
                                "transition.")  # on_deactivate, L1253-1264
            if handle is not self.running:  # preempt_active_goal (L1820-1833)
                return self.end(handle, "abort", Result.INVALID_GOAL, "Current goal preempted by new incoming action.")
            if handle.is_cancel_requested:  # goal_cancelled_callback (L1419-1449): cancelled, code 0, hold
                self.hold_here()
                self.running = None
                return self.end(handle, "canceled")
            now = self.now_ns()
            q, v = self.state(now)
            feedback = FollowJointTrajectory.Feedback(joint_names=ARM)
            feedback.header.stamp = self.get_clock().now().to_msg()
            feedback.desired = JointTrajectoryPoint(positions=q.tolist(), velocities=v.tolist())
            feedback.actual = JointTrajectoryPoint(positions=q.tolist(), velocities=v.tolist())
            feedback.error = JointTrajectoryPoint(positions=[0.0] * 7, velocities=[0.0] * 7)
            handle.publish_feedback(feedback)
            if self.abort_after_s is not None and now - started >= self.abort_after_s * 1e9:
                self.hold_here()
                self.running = None
                return self.end(handle, "abort", Result.PATH_TOLERANCE_VIOLATED,
                                "Aborted due to path tolerance violation")
            if now >= end_ns and self.finish:
                self.running = None
                return self.end(handle, "succeed", Result.SUCCESSFUL, "Goal successfully reached!")


def behaviour(n_points: int = 15, amplitude: float = 0.3) -> np.ndarray:
    """[n_points, 9] a smooth excursion of the arm from HOME and back, 0.1 s apart (fingers still)."""
    s = np.sin(np.linspace(0.0, np.pi, n_points))[:, None]
    return HOME + amplitude * s * np.concatenate([np.linspace(0.2, 1.0, 7), [0.0, 0.0]])[None, :]


def graph(controller: dict | None = None, **params):
    """The commander (action interface, no gripper controller, limits from parameters) and the controller."""
    g = Graph()
    g.action = next(ACTIONS)
    commander = g.add(CommanderNode, target="ros2_control", trajectory_interface="action",
                      arm_controller_action=g.action, gripper_controller_topic="", action_timeout_s=TIMEOUT_S,
                      joint_limits_lower=list(arm.JOINT_LOWER), joint_limits_upper=list(arm.JOINT_UPPER),
                      joint_limits_velocity=list(arm.MAX_VELOCITY), **params)
    robot = ActionController(g.context, g.action, **(controller or {}))
    g.nodes.append(robot)  # spun by its own executor
    g.trajectory = g.publisher(JointTrajectory, messages.COMPLETED_BEHAVIOUR)
    g.start()
    g.wait_for_subscribers(g.trajectory)
    assert g.wait(lambda: commander.measured is not None), "the commander never took /joint_states"
    if (controller or {}).get("serve", True):
        assert g.wait(lambda: commander.output.action.server_is_ready(), timeout=10.0), "the action was never found"
    return g, commander, robot


def diagnostics(g) -> tuple[int, str, dict]:
    """The commander's last /diagnostics status: (level, message, values)."""
    msg = g.probe.last(messages.DIAGNOSTICS)
    status = next(s for s in msg.status if s.name.startswith("commander"))
    return int.from_bytes(status.level, "little"), status.message, {kv.key: kv.value for kv in status.values}


class ConsoleLog:
    """The commander's log lines as the console shows them (stderr, line-buffered), read as the test goes.

    Read there rather than from /rosout: a probe's /rosout subscription was seen to miss a node's later
    lines when several graphs had run in the process before, and these tests count lines.
    """

    def __init__(self, capfd) -> None:
        self.capfd, self.text = capfd, ""

    def lines(self, level: str) -> list[str]:
        """The commander's lines at ``level`` (INFO, WARN, ERROR) so far, without their prefix."""
        self.text += self.capfd.readouterr().err
        return [m.group(2) for m in map(LINE.match, self.text.splitlines()) if m and m.group(1) == level]


@pytest.fixture
def log(capfd) -> ConsoleLog:
    return ConsoleLog(capfd)


def one_error(g, log: ConsoleLog) -> str:
    """The commander's one ERROR line (none more), once it is out."""
    assert g.wait(lambda: log.lines("ERROR"), timeout=5.0), f"no ERROR line; the commander said: {log.text}"
    errors = log.lines("ERROR")
    assert len(errors) == 1, errors
    return errors[0]


def wait_for_report(g, key: str, timeout: float = 5.0) -> tuple[int, str, dict]:
    """The first /diagnostics status from now on that reports ``key``."""
    before = g.probe.count(messages.DIAGNOSTICS)
    assert g.wait(lambda: g.probe.count(messages.DIAGNOSTICS) > before and key in diagnostics(g)[2], timeout), \
        f"/diagnostics never reported {key}: {diagnostics(g) if g.probe.last(messages.DIAGNOSTICS) else None}"
    return diagnostics(g)


def test_a_goal_that_succeeds_counts_as_executed(log):
    g, commander, robot = graph()
    with g:
        joints = behaviour()
        g.trajectory.publish(messages.joint_trajectory(NAMES, joints, 0.1))
        assert g.wait(lambda: robot.goals), f"no goal arrived; commander said: {log.text}"
        goal = robot.goals[-1]
        assert list(goal.joint_names) == ARM and len(goal.points) == 15
        assert goal.header.stamp.sec == 0 and goal.header.stamp.nanosec == 0  # start on acceptance
        np.testing.assert_allclose([list(p.positions) for p in goal.points], joints[:, :7], atol=1e-12)
        assert g.wait(lambda: commander.health.counter("executed") == 1, timeout=10.0), log.text
        assert robot.ended == [(GoalStatus.STATUS_SUCCEEDED, 0, "Goal successfully reached!")]
        np.testing.assert_allclose(robot.state()[0], joints[-1, :7], atol=1e-12)
        assert g.wait(lambda: g.probe.count(messages.TRACKING_ERROR) == 1)
        assert g.probe.last(messages.TRACKING_ERROR).data < 0.01  # ideal tracking: only the feedback's delay
        assert g.wait(lambda: any(m.startswith("trajectory done") for m in log.lines("INFO")), timeout=5.0)
        done = [m for m in log.lines("INFO") if m.startswith("trajectory done")]
        assert len(done) == 1 and "arm controller: SUCCESSFUL (Goal successfully reached!); its tracking error " \
                                  "0.0000 rad RMS" in done[0], done
        level, message, values = wait_for_report(g, "executed")
        assert level == int.from_bytes(DiagnosticStatus.OK, "little") and message == "idle", (level, message)
        assert values["executed"] == "1" and not any(k.startswith("goal_") for k in values), values
        assert values["last_outcome"] == "executed" and values["last_outcome_reason"].startswith(
            "arm controller: SUCCESSFUL (Goal successfully reached!)")
        assert not log.lines("ERROR"), log.lines("ERROR")


def test_a_rejected_goal_counts_as_rejected_with_the_reason_in_one_line(log):
    g, commander, robot = graph(controller={"active": False})
    with g:
        sent_at = time.monotonic()
        g.trajectory.publish(messages.joint_trajectory(NAMES, behaviour(), 0.1))
        assert g.wait(lambda: commander.health.counter("goal_rejected") == 1), log.text
        assert time.monotonic() - sent_at < 0.5  # at once (22 ms measured), not when its time is up (1.5 s)
        assert robot.rejected == ["Can't accept new action goals. Controller is not running."] and not robot.goals
        line = one_error(g, log)
        assert line == (f"arm controller: {g.action} rejected the goal, nothing executed (a "
                        "joint_trajectory_controller rejects a goal while inactive or when the trajectory fails its "
                        "checks; its log names which)")
        assert commander.active is None
        level, message, values = wait_for_report(g, "goal_rejected")
        assert level == int.from_bytes(DiagnosticStatus.ERROR, "little"), (level, message)
        assert message == "the arm controller rejected a trajectory (see the log)"
        assert values["goal_rejected"] == "1" and "executed" not in values, values
        assert values["last_outcome"] == "rejected" and values["last_outcome_reason"] == line
        assert not g.wait(lambda: g.probe.count(messages.TRACKING_ERROR) or commander.health.counter("executed"),
                          timeout=2.5)


def test_an_aborted_goal_counts_as_aborted_with_the_controllers_code_and_string(log):
    g, commander, robot = graph(controller={"abort_after_s": 0.5})
    with g:
        joints = behaviour(n_points=30)  # 3 s: the abort comes in the middle
        sent_at = time.monotonic()
        g.trajectory.publish(messages.joint_trajectory(NAMES, joints, 0.1))
        assert g.wait(lambda: commander.health.counter("goal_aborted") == 1), log.text
        assert time.monotonic() - sent_at < 1.2  # when the controller aborts (0.53-0.56 s measured), not at 3 s
        assert robot.ended == [(GoalStatus.STATUS_ABORTED, Result.PATH_TOLERANCE_VIOLATED,
                                "Aborted due to path tolerance violation")]
        line = one_error(g, log)
        assert line == ("arm controller: goal aborted: PATH_TOLERANCE_VIOLATED (Aborted due to path tolerance "
                        "violation); its tracking error 0.0000 rad RMS at the last feedback")
        held = robot.state()[0]
        assert np.abs(held - HOME[:7]).max() > 0.05 and np.abs(held - joints[-1, :7]).max() > 0.05
        level, message, values = wait_for_report(g, "goal_aborted")
        assert level == int.from_bytes(DiagnosticStatus.ERROR, "little")
        assert message == "the arm controller aborted a trajectory (see the log)"
        assert values["goal_aborted"] == "1" and "executed" not in values, values
        assert values["last_outcome"] == "aborted" and values["last_outcome_reason"] == line
        assert not g.wait(lambda: g.probe.count(messages.TRACKING_ERROR) or commander.health.counter("executed"),
                          timeout=3.0)


def test_without_a_server_the_goal_counts_as_unanswered_after_the_timeout(log):
    g, commander, robot = graph(controller={"serve": False})
    with g:
        sent_at = time.monotonic()
        g.trajectory.publish(messages.joint_trajectory(NAMES, behaviour(), 0.1))
        assert g.wait(lambda: commander.health.counter("goal_unanswered") == 1), log.text
        waited = time.monotonic() - sent_at
        assert TIMEOUT_S <= waited < TIMEOUT_S + 0.5, waited  # 1.03 s measured
        line = one_error(g, log)
        assert line == (f"arm controller: no answer to the goal on {g.action} (no server is known on it) within "
                        f"{TIMEOUT_S:g} s; nothing executed")
        assert any(f"no FollowJointTrajectory server is known on {g.action}; sending the goal" in m
                   for m in log.lines("WARN")), log.text
        level, message, values = wait_for_report(g, "goal_unanswered")
        assert level == int.from_bytes(DiagnosticStatus.ERROR, "little")
        assert message == "the arm controller did not answer a trajectory (see the log)"
        assert values["goal_unanswered"] == "1" and "executed" not in values, values
        assert values["last_outcome"] == "unanswered" and values["last_outcome_reason"] == line
        assert not g.wait(lambda: commander.health.counter("executed"), timeout=1.5)


def test_a_goal_without_a_result_is_unanswered_and_cancelled(log):
    """A controller whose goal tolerance is not met keeps the goal open; the commander gives up and cancels."""
    g, commander, robot = graph(controller={"finish": False})
    with g:
        sent_at = time.monotonic()
        g.trajectory.publish(messages.joint_trajectory(NAMES, behaviour(), 0.1))  # 1.5 s
        assert g.wait(lambda: commander.health.counter("goal_unanswered") == 1, timeout=10.0), log.text
        waited = time.monotonic() - sent_at
        end = 1.5 + commander.settings.settle_s + TIMEOUT_S
        assert end <= waited < end + 0.5, waited  # 10-20 ms past it measured
        assert g.wait(lambda: robot.ended == [(GoalStatus.STATUS_CANCELED, 0, "")]), robot.ended
        assert robot.cancels == 1
        line = one_error(g, log)
        assert line.startswith(f"arm controller: no result from {g.action} 1.") and line.endswith(
            " s after the trajectory's end and settle_s; goal cancelled, the controller holds"), line
        assert commander.health.counter("executed") == 0
        values = wait_for_report(g, "goal_unanswered")[2]
        assert values["goal_unanswered"] == "1" and values["last_outcome_reason"] == line


def test_a_newer_trajectory_preempts_the_running_goal_without_counting_it(log):
    g, commander, robot = graph()
    with g:
        first, second = behaviour(n_points=30), behaviour(amplitude=-0.2)
        g.trajectory.publish(messages.joint_trajectory(NAMES, first, 0.1))
        assert g.wait(lambda: robot.goals and np.abs(robot.state()[0] - HOME[:7]).max() > 0.05)
        g.trajectory.publish(messages.joint_trajectory(NAMES, second, 0.1))
        assert g.wait(lambda: commander.health.counter("executed") == 1, timeout=10.0), log.text
        assert robot.ended == [(GoalStatus.STATUS_ABORTED, Result.INVALID_GOAL,
                                "Current goal preempted by new incoming action."),
                               (GoalStatus.STATUS_SUCCEEDED, 0, "Goal successfully reached!")]
        np.testing.assert_allclose(robot.state()[0], second[-1, :7], atol=1e-12)
        assert g.wait(lambda: any("arm controller: goal aborted: INVALID_GOAL (Current goal preempted by new incoming "
                                  "action.)" in m and "no longer the running one" in m for m in log.lines("INFO")),
                      timeout=5.0)
        assert not log.lines("ERROR"), log.lines("ERROR")
        assert all(commander.health.counter(f"goal_{kind}") == 0 for kind in ("rejected", "aborted", "unanswered"))


def test_stop_cancels_the_goal_and_the_controller_holds(log):
    g, commander, robot = graph()
    with g:
        joints = behaviour(n_points=30, amplitude=0.6)
        g.trajectory.publish(messages.joint_trajectory(NAMES, joints, 0.1))
        assert g.wait(lambda: robot.goals and np.abs(robot.state()[0] - HOME[:7]).max() > 0.1)
        client = g.probe.create_client(Trigger, "/commander/stop")
        assert client.wait_for_service(timeout_sec=5.0)
        future = client.call_async(Trigger.Request())
        assert g.wait(future.done) and future.result().success
        assert g.wait(lambda: robot.ended == [(GoalStatus.STATUS_CANCELED, 0, "")]), robot.ended
        held = robot.state()[0]
        assert np.abs(held - joints[-1, :7]).max() > 0.1, "the stop came too late to test anything"
        assert not g.wait(lambda: np.abs(robot.state()[0] - held).max() > 1e-9, timeout=0.5), "the arm moved on"
        assert g.wait(lambda: any("arm controller: goal cancelled, it holds where it is" in m
                                  for m in log.lines("INFO")), timeout=5.0)
        assert not log.lines("ERROR") and commander.health.counter("executed") == 0
        assert all(commander.health.counter(f"goal_{kind}") == 0 for kind in ("rejected", "aborted", "unanswered"))
