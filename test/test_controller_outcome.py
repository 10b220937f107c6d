"""How a trajectory sent to a ros2_control arm ended, without DDS: the rules ``goal_outcome`` applies to a
FollowJointTrajectory goal's answer and result, and the one line that says why. The DDS tests
(test_follow_joint_trajectory.py) play the same cases against a real action server.
"""

import pytest
from action_msgs.msg import GoalStatus

from latent_nodes.robot.controller_outcome import (
    ABORTED,
    EXECUTED,
    REJECTED,
    STATUS_ABORTED,
    STATUS_CANCELED,
    STATUS_SUCCEEDED,
    UNANSWERED,
    Goal,
    describe_result,
    goal_outcome,
    result_kind,
    topic_outcome,
)

TIMEOUT = 1.0
ACTION = "/arm_controller/follow_joint_trajectory"


def outcome(goal: Goal, waited_s: float = 0.0, overdue_s: float = -1.0, server_known: bool = True):
    return goal_outcome(goal, waited_s, overdue_s, TIMEOUT, ACTION, lambda: server_known)


def test_the_status_numbers_are_action_msgs_own():
    assert (STATUS_SUCCEEDED, STATUS_CANCELED, STATUS_ABORTED) == (
        GoalStatus.STATUS_SUCCEEDED, GoalStatus.STATUS_CANCELED, GoalStatus.STATUS_ABORTED)


def test_action_results_are_read_by_status_then_code():
    """A cancelled goal has code 0 too; only a goal that succeeded with SUCCESSFUL counts as executed."""
    assert describe_result(STATUS_SUCCEEDED, 0, "Goal successfully reached!", 0.0123).startswith(
        "arm controller: SUCCESSFUL (Goal successfully reached!); its tracking error 0.0123 rad RMS")
    assert result_kind(STATUS_SUCCEEDED, 0) == EXECUTED
    text = describe_result(STATUS_CANCELED, 0, "", 0.01)
    assert "goal cancelled" in text and "SUCCESSFUL" not in text
    assert result_kind(STATUS_CANCELED, 0) == ABORTED  # not by the commander: not completed
    assert describe_result(STATUS_ABORTED, -1, "Current goal preempted by new incoming action.", 0.0).startswith(
        "arm controller: goal aborted: INVALID_GOAL (Current goal preempted by new incoming action.)")
    assert describe_result(STATUS_ABORTED, -4, "Aborted due to path tolerance violation", 0.2).startswith(
        "arm controller: goal aborted: PATH_TOLERANCE_VIOLATED (Aborted due to path tolerance violation)")
    assert result_kind(STATUS_ABORTED, -4) == ABORTED
    assert "goal aborted: -7" in describe_result(STATUS_ABORTED, -7, "", float("nan"))
    # A success status with an error code is no success (control_msgs: SUCCESSFUL is the only one).
    assert result_kind(STATUS_SUCCEEDED, -5) == ABORTED
    assert "succeeded with an error code: GOAL_TOLERANCE_VIOLATED" in describe_result(STATUS_SUCCEEDED, -5, "", 0.0)


def test_over_the_topic_a_trajectory_is_executed_when_its_time_is_up():
    assert topic_outcome(-0.01) is None
    assert topic_outcome(0.0).kind == EXECUTED and topic_outcome(0.0).executed


def test_a_goal_nobody_answers_is_unanswered_after_the_timeout():
    goal = Goal(1, sent_at=0.0)
    assert outcome(goal, waited_s=0.99, overdue_s=5.0) is None  # the answer's time, not the trajectory's
    late = outcome(goal, waited_s=1.0, server_known=False)
    assert late.kind == UNANSWERED and not late.executed
    assert late.line == (f"arm controller: no answer to the goal on {ACTION} (no server is known on it) within 1 s; "
                         "nothing executed")
    assert "(no server" not in outcome(goal, waited_s=1.0, server_known=True).line
    assert not goal.running  # nothing to cancel now: a late acceptance is cancelled when it comes


def test_a_rejected_goal_is_rejected_at_once():
    goal = Goal(1, sent_at=0.0, answered=True, accepted=False)
    rejected = outcome(goal, waited_s=0.01)
    assert rejected.kind == REJECTED and f"{ACTION} rejected the goal, nothing executed" in rejected.line


def test_an_accepted_goal_is_executed_only_when_it_succeeded_and_its_time_is_up():
    goal = Goal(1, sent_at=0.0, handle=object(), answered=True, accepted=True)
    assert goal.running
    assert outcome(goal, overdue_s=-0.5) is None  # running
    goal.result = (STATUS_SUCCEEDED, 0, "")
    goal.tracking_error = 0.002
    assert not goal.running
    assert outcome(goal, overdue_s=-0.1) is None  # succeeded early: counted when its time is up
    done = outcome(goal, overdue_s=0.0)
    assert done.kind == EXECUTED and done.line.startswith("arm controller: SUCCESSFUL; its tracking error 0.0020")


def test_an_aborted_goal_is_aborted_at_once_with_its_reason():
    goal = Goal(1, sent_at=0.0, handle=object(), answered=True, accepted=True,
                result=(STATUS_ABORTED, -4, "Aborted due to path tolerance violation"))
    aborted = outcome(goal, overdue_s=-2.0)
    assert aborted.kind == ABORTED and "PATH_TOLERANCE_VIOLATED" in aborted.line


@pytest.mark.parametrize("overdue_s, expected", [(0.99, None), (1.0, UNANSWERED)])
def test_an_accepted_goal_without_a_result_is_unanswered_a_timeout_after_its_end(overdue_s, expected):
    goal = Goal(1, sent_at=0.0, handle=object(), answered=True, accepted=True)
    result = outcome(goal, waited_s=100.0, overdue_s=overdue_s)
    assert (result and result.kind) == expected
    if result is not None:
        assert result.line == (f"arm controller: no result from {ACTION} 1.00 s after the trajectory's end and "
                               "settle_s; goal cancelled, the controller holds")
        assert goal.running  # whoever takes this outcome cancels the goal
