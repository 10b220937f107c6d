"""How a trajectory sent to a ros2_control arm ended, as the commander counts it, without ROS.

Over a JointTrajectory topic nothing comes back: a trajectory counts as executed once its time is up.
Over the FollowJointTrajectory action the goal's server decides (``goal_outcome``): a goal is
rejected (the server said no), aborted (its result is not success: the controller stopped it, another
goal preempted it, a tolerance was violated), executed (it succeeded, and its time is up) or unanswered
(no answer within the timeout: no server, or none that answers; or no result that long after the
trajectory's end). Only an executed trajectory counts as executed.

Everything here takes plain values, the action's status and result codes as numbers and the result's
text, so the rules are tested without DDS; ``nodes/ros2_control_output.py`` reads them from the action's
messages and does what an outcome asks (forget the goal, cancel it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# action_msgs/msg/GoalStatus.msg (rcl_interfaces, kilted): the terminal states read here.
STATUS_SUCCEEDED, STATUS_CANCELED, STATUS_ABORTED = 4, 5, 6
# control_msgs/action/FollowJointTrajectory.action, result codes (6.8.0, L33-39).
ACTION_RESULTS = {0: "SUCCESSFUL", -1: "INVALID_GOAL", -2: "INVALID_JOINTS", -3: "OLD_HEADER_TIMESTAMP",
                  -4: "PATH_TOLERANCE_VIOLATED", -5: "GOAL_TOLERANCE_VIOLATED"}
# How a sent trajectory ends, as the commander counts it (``Outcome.kind``).
EXECUTED, REJECTED, ABORTED, UNANSWERED = "executed", "rejected", "aborted", "unanswered"


@dataclass(frozen=True)
class Outcome:
    """How the trajectory sent last ended: ``kind`` is EXECUTED, REJECTED, ABORTED or UNANSWERED; ``line`` says why."""

    kind: str
    line: str = ""

    @property
    def executed(self) -> bool:
        return self.kind == EXECUTED


@dataclass
class Goal:
    """One FollowJointTrajectory goal as sent, and what its server has said of it so far."""

    sequence: int
    sent_at: float  # time.monotonic(): the answer's timeout is about messages, not the node's clock
    handle: object | None = None  # the action client's goal handle, once accepted
    answered: bool = False  # accepted or rejected
    accepted: bool = False
    result: tuple[int, int, str] | None = None  # (GoalStatus status, error_code, error_string)
    tracking_error: float = float("nan")  # RMS of the controller's feedback error, the last feedback

    @property
    def running(self) -> bool:
        """Accepted and not finished: a goal given up now must be cancelled (the controller would run it on)."""
        return self.handle is not None and self.result is None


def result_kind(status: int, error_code: int) -> str:
    """EXECUTED for a goal that succeeded with SUCCESSFUL, else ABORTED: the trajectory was not completed.

    A joint_trajectory_controller ends a goal it ran as succeeded with SUCCESSFUL (joint_trajectory_controller.cpp,
    kilted L500-512) or aborted with PATH_TOLERANCE_VIOLATED (L473-496) or GOAL_TOLERANCE_VIOLATED (L517-535);
    another goal on the same action preempts it, aborted with INVALID_GOAL (``preempt_active_goal``
    L1820-1833), as does the controller's deactivation (L1253-1264), and a cancel from another client ends
    it cancelled (L1419-1449). None of these completed the trajectory. The code is read as well: control_msgs gives
    SUCCESSFUL as the only success (FollowJointTrajectory.action L33-49).
    """
    success = status == STATUS_SUCCEEDED and error_code == 0
    return EXECUTED if success else ABORTED


def describe_result(status: int, error_code: int, error_string: str, tracking_error: float) -> str:
    """The one log line for a FollowJointTrajectory result: what happened (the status) and why (the code).

    A cancelled goal carries code 0 (SUCCESSFUL) too (joint_trajectory_controller.cpp, kilted L1433-1434),
    so the status is read first.
    """
    tail = f"; its tracking error {tracking_error:.4f} rad RMS at the last feedback"
    why = ACTION_RESULTS.get(error_code, str(error_code)) + (f" ({error_string})" if error_string else "")
    if status == STATUS_SUCCEEDED and error_code == 0:
        return f"arm controller: {why}{tail}"
    if status == STATUS_CANCELED:
        return f"arm controller: goal cancelled, it holds where it is{tail}"
    kind = {STATUS_ABORTED: "aborted", STATUS_SUCCEEDED: "succeeded with an error code"}.get(
        status, f"ended with status {status}")
    return f"arm controller: goal {kind}: {why}{tail}"


def topic_outcome(overdue_s: float) -> Outcome | None:
    """Over the topic nothing comes back: executed once ``overdue_s`` (time past the end and settle) is >= 0."""
    return Outcome(EXECUTED) if overdue_s >= 0 else None


def goal_outcome(goal: Goal, waited_s: float, overdue_s: float, timeout_s: float, action_name: str,
                 server_known: Callable[[], bool]) -> Outcome | None:
    """How ``goal`` has ended, or None while that is not known yet.

    ``waited_s`` is the time since the goal was sent (monotonic), ``overdue_s`` the commander's time past
    the trajectory's end and ``settle_s`` (negative before), ``timeout_s`` the node's ``action_timeout_s``;
    ``server_known`` says whether any server is known on ``action_name`` (asked only for the line of a goal
    nobody answered). Rejected at once, aborted at its result, executed when it succeeded and is overdue;
    unanswered with no answer within ``timeout_s`` (no server, or none that answers), or no result
    ``timeout_s`` after the end (a controller whose goal tolerance is not met waits without limit when its
    goal_time is 0, joint_trajectory_controller.cpp, kilted L391-411). Whoever gets an outcome forgets the
    goal, and cancels it if it is still ``running`` (a late acceptance is cancelled on arrival).
    """
    if not goal.answered:
        if waited_s < timeout_s:
            return None
        known = "" if server_known() else " (no server is known on it)"
        return Outcome(UNANSWERED, f"arm controller: no answer to the goal on {action_name}{known} "
                                   f"within {timeout_s:g} s; nothing executed")
    if not goal.accepted:
        # The action's answer carries no reason; the controller logs it (goal_received_callback,
        # joint_trajectory_controller.cpp kilted L1397-1417: not active, or validate_trajectory_msg).
        return Outcome(REJECTED, f"arm controller: {action_name} rejected the goal, nothing executed "
                                 "(a joint_trajectory_controller rejects a goal while inactive or when the "
                                 "trajectory fails its checks; its log names which)")
    if goal.result is None:
        if overdue_s < timeout_s:
            return None
        return Outcome(UNANSWERED, f"arm controller: no result from {action_name} {overdue_s:.2f} s after "
                                   "the trajectory's end and settle_s; goal cancelled, the controller holds")
    status, code, text = goal.result
    kind = result_kind(status, code)
    if kind == EXECUTED and overdue_s < 0:
        return None
    return Outcome(kind, describe_result(status, code, text, goal.tracking_error))
