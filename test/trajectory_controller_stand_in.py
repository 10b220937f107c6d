"""A stand-in joint_trajectory_controller that accepts, rejects and executes JointTrajectory as the real one does.

Modelled line by line on ros2_controllers, branch ``kilted`` (commit 0f8eb14e1a73, the Kilted release
these tests' wheels belong to), ``joint_trajectory_controller/src/``; humble, jazzy and rolling make
the same checks at other line numbers (humble's ``allow_nonzero_velocity_at_trajectory_end`` defaults
to true):

- ``rejection`` is ``validate_trajectory_msg`` (joint_trajectory_controller.cpp L1667-1812), check by
  check and in its order, returning the controller's own error line: every joint named unless
  ``allow_partial_joints_goal`` (L1670-1681), joint names present (L1683-1688), at least one point
  (L1690-1695: an *empty trajectory is rejected*, it does not mean "stop"), only the controller's
  joints (L1697-1710), zero velocity at the last point within float epsilon unless
  ``allow_nonzero_velocity_at_trajectory_end`` (L1712-1726), a non-zero stamp must not end in the past
  (L1728-1746; a zero stamp means "start now"), strictly increasing ``time_from_start`` (L1750-1760;
  the first point may be at 0), positions for every joint and velocities/accelerations empty or for
  every joint (L1765-1799 with ``validate_trajectory_point_field`` L1648-1665), no effort without an
  effort command interface (L1801-1809).
- ``Execution`` is what ``update`` (L276-322) and ``Trajectory::sample`` (trajectory.cpp L109-254) do
  with an accepted message: joints missing from a partial goal are held at their current value
  (``fill_partial_goal`` L1518-1597), points are reordered into the controller's joint order
  (``sort_to_local_joint_order`` L1599-1646), the segment before the first point starts from the
  controller's state when the trajectory is first sampled (``set_point_before_trajectory_msg``
  trajectory.cpp L50-76, zero velocities if the state has none), a zero stamp starts the trajectory
  at that first sample (trajectory.cpp L126-134), each segment is a cubic when both of its ends have
  velocities and linear otherwise (``interpolate_between_points`` L256-364, interpolation method
  ``splines``, the default), and after the last point its position is held (L208-253).

Not modelled, because the messages checked here never use them: accelerations (quintic segments),
``allow_integration_in_goal_trajectories`` integration, interpolation method ``none`` and tolerances.
The action server is played in ``test_follow_joint_trajectory.py`` with these checks and this execution.
The stand-in's arm follows its command exactly (ideal tracking).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
from rclpy.node import Node
from trajectory_msgs.msg import JointTrajectory

# validate_trajectory_msg compares the last velocities with std::numeric_limits<float>::epsilon() (L1717).
FLOAT_EPSILON = float(np.finfo(np.float32).eps)


@dataclass(frozen=True)
class ControllerRules:
    """The controller's joints and the parameters that change what it accepts (their defaults are the real ones:
    joint_trajectory_controller_parameters.yaml L75-79, L95-99, L123-127).
    """

    joints: tuple[str, ...]
    allow_partial_joints_goal: bool = False
    allow_nonzero_velocity_at_trajectory_end: bool = False
    allow_integration_in_goal_trajectories: bool = False
    effort_command_interface: bool = False


def duration_ns(duration) -> int:
    """builtin_interfaces Duration or Time as rclcpp reads it: whole nanoseconds."""
    return int(duration.sec) * 1_000_000_000 + int(duration.nanosec)


def _field_problem(n_joints: int, values, field: str, i: int, allow_empty: bool) -> str | None:
    """validate_trajectory_point_field (L1648-1665)."""
    if allow_empty and len(values) == 0:
        return None
    if len(values) != n_joints:
        return f"Mismatch between joint_names size ({n_joints}) and {field} ({len(values)}) at point #{i}."
    return None


def rejection(msg: JointTrajectory, rules: ControllerRules, now_ns: int) -> str | None:
    """The error line the controller logs when it rejects ``msg``, or None when it accepts it (L1667-1812)."""
    names = list(msg.joint_names)
    if not rules.allow_partial_joints_goal and len(names) != len(rules.joints):
        return "Joints on incoming trajectory don't match the controller joints."
    if not names:
        return "Empty joint names on incoming trajectory."
    if not msg.points:
        return "Empty trajectory received."
    for name in names:
        if name not in rules.joints:
            return f"Incoming joint {name} doesn't match the controller's joints."
    if not rules.allow_nonzero_velocity_at_trajectory_end:
        for i, v in enumerate(msg.points[-1].velocities):
            if abs(v) > FLOAT_EPSILON:
                # joint_names.at(i) throws where velocities outnumber names; the size check below never runs then.
                name = names[i] if i < len(names) else "<out of range: std::out_of_range>"
                return f"Velocity of last trajectory point of joint {name} is not zero: {v:.15f}"
    start_ns = duration_ns(msg.header.stamp)
    if start_ns != 0:
        end_ns = start_ns + duration_ns(msg.points[-1].time_from_start)
        if end_ns < now_ns:
            return (f"Received trajectory with non-zero start time ({start_ns * 1e-9:f}) that ends in the past "
                    f"({end_ns * 1e-9:f})")
    previous = 0
    for i, point in enumerate(msg.points):
        t = duration_ns(point.time_from_start)
        if i > 0 and t <= previous:
            return (f"Time between points {i - 1} and {i} is not strictly increasing, it is {previous * 1e-9:f} and "
                    f"{t * 1e-9:f} respectively")
        previous = t
        n = len(names)
        if rules.allow_integration_in_goal_trajectories:
            if not (len(point.positions) or len(point.velocities) or len(point.accelerations)):
                return "The given trajectory has no position, velocity, or acceleration points."
            for values, field in ((point.positions, "positions"), (point.velocities, "velocities"),
                                  (point.accelerations, "accelerations")):
                problem = _field_problem(n, values, field, i, allow_empty=True)
                if problem:
                    return problem
        else:
            for values, field, allow_empty in ((point.positions, "positions", False),
                                               (point.velocities, "velocities", True),
                                               (point.accelerations, "accelerations", True)):
                problem = _field_problem(n, values, field, i, allow_empty)
                if problem:
                    return problem
        if not rules.effort_command_interface and len(point.effort):
            return ("Trajectories with effort fields are only supported for controllers using the 'effort' command "
                    "interface.")
    return None


class Execution:
    """An accepted trajectory, sampled as the controller samples it (``splines``, no accelerations)."""

    def __init__(self, msg: JointTrajectory, rules: ControllerRules, first_sample_ns: int,
                 positions: np.ndarray, velocities: np.ndarray) -> None:
        if any(len(p.accelerations) for p in msg.points):
            raise ValueError("the stand-in does not model accelerations (quintic segments)")
        joints = list(rules.joints)
        column = [joints.index(name) for name in msg.joint_names]
        n = len(msg.points)
        # fill_partial_goal: a joint the message leaves out holds its current value, at rest (L1518-1597).
        self.positions = np.tile(np.asarray(positions, dtype=np.float64), (n, 1))
        has_velocity = all(len(p.velocities) for p in msg.points)
        self.velocities = np.zeros((n, len(joints))) if has_velocity else None
        for k, point in enumerate(msg.points):  # sort_to_local_joint_order (L1599-1646)
            self.positions[k, column] = point.positions
            if has_velocity:
                self.velocities[k, column] = point.velocities
        self.times_ns = np.array([duration_ns(p.time_from_start) for p in msg.points], dtype=np.int64)
        stamp = duration_ns(msg.header.stamp)
        self.start_ns = stamp if stamp != 0 else first_sample_ns  # trajectory.cpp L126-134
        self.before_ns = first_sample_ns  # time and state before the first point (trajectory.cpp L50-76)
        self.before_positions = np.asarray(positions, dtype=np.float64).copy()
        self.before_velocities = np.asarray(velocities, dtype=np.float64).copy()

    def sample(self, t_ns: int) -> tuple[np.ndarray, np.ndarray]:
        """(positions, velocities) commanded at ``t_ns`` (trajectory.cpp L109-254)."""
        if t_ns < self.before_ns:
            return self.before_positions.copy(), self.before_velocities.copy()
        first = self.start_ns + int(self.times_ns[0])
        if t_ns < first:  # from the state before the trajectory to its first point (L147-169)
            return self._segment(self.before_ns, self.before_positions, self.before_velocities, first,
                                 self.positions[0], None if self.velocities is None else self.velocities[0], t_ns)
        for i in range(len(self.times_ns) - 1):
            t0, t1 = self.start_ns + int(self.times_ns[i]), self.start_ns + int(self.times_ns[i + 1])
            if t0 <= t_ns < t1:
                v0, v1 = (None, None) if self.velocities is None else (self.velocities[i], self.velocities[i + 1])
                return self._segment(t0, self.positions[i], v0, t1, self.positions[i + 1], v1, t_ns)
        last_v = np.zeros(self.positions.shape[1]) if self.velocities is None else self.velocities[-1]
        return self.positions[-1].copy(), last_v.copy()  # played out: hold the last point (L208-253)

    @staticmethod
    def _segment(ta: int, pa: np.ndarray, va: np.ndarray | None, tb: int, pb: np.ndarray, vb: np.ndarray | None,
                 t_ns: int) -> tuple[np.ndarray, np.ndarray]:
        """interpolate_between_points (trajectory.cpp L256-364): cubic with velocities at both ends, else linear."""
        T = (tb - ta) * 1e-9
        t = min(max(t_ns - ta, 0), tb - ta) * 1e-9
        if va is None or vb is None:
            slope = (pb - pa) / T if T != 0 else np.zeros_like(pa)
            return pa + t * slope, slope.copy()
        c2 = (-3.0 * pa + 3.0 * pb - 2.0 * va * T - vb * T) / T**2 if T != 0 else np.zeros_like(pa)
        c3 = (2.0 * pa - 2.0 * pb + va * T + vb * T) / T**3 if T != 0 else np.zeros_like(pa)
        return pa + va * t + c2 * t**2 + c3 * t**3, va + 2.0 * c2 * t + 3.0 * c3 * t**2


class StandInTrajectoryController(Node):
    """A joint_trajectory_controller named ``name``: ``/<name>/joint_trajectory`` in, an ideally tracked arm out.

    Every message is kept in ``accepted`` or, with the controller's error line (also logged, as the
    controller does), in ``rejected``; ``state()`` is where its joints are now.
    """

    def __init__(self, context, name: str, rules: ControllerRules, positions: np.ndarray) -> None:
        super().__init__(name, context=context)
        self.rules = rules
        self.lock = threading.Lock()
        self.accepted: list[JointTrajectory] = []
        self.rejected: list[tuple[JointTrajectory, str]] = []
        self.state_at_receipt: list[np.ndarray] = []  # the joints' positions when each accepted message arrived
        self.hold = np.asarray(positions, dtype=np.float64).copy()
        self.execution: Execution | None = None
        self.create_subscription(JointTrajectory, f"/{name}/joint_trajectory", self.on_trajectory, 10)

    def now_ns(self) -> int:
        return self.get_clock().now().nanoseconds

    def state(self, t_ns: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(positions, velocities) of the controller's joints, in its joint order."""
        with self.lock:
            if self.execution is None:
                return self.hold.copy(), np.zeros_like(self.hold)
            return self.execution.sample(self.now_ns() if t_ns is None else t_ns)

    def on_trajectory(self, msg: JointTrajectory) -> None:
        now = self.now_ns()
        problem = rejection(msg, self.rules, now)
        if problem is not None:
            self.get_logger().error(problem)
            with self.lock:
                self.rejected.append((msg, problem))
            return
        positions, velocities = self.state(now)
        with self.lock:
            self.execution = Execution(msg, self.rules, now, positions, velocities)
            self.accepted.append(msg)
            self.state_at_receipt.append(positions)
