"""The inference node's online mode: the first pose starts a behaviour, re-inferred at every step while it runs.

The worker samples the latest joint state and a fresh block pose at every step of the model's dt (timing:
``inference/step_clock.py``), updates an ``OnlineEstimator`` (inference/online.py, docs/online.md) and
publishes an updated trajectory whenever the remaining points move by more than ``online_tolerance``
(rad). Every trajectory is stamped with the behaviour's start, so the commander splices it in at the
current phase instead of restarting. ``behaviour: auto`` recognizes the behaviour from the observed
prefix and publishes nothing while the recognition abstains; the ``recognition_rule`` parameter chooses
how it decides (the sequential rule, one fresh instance per behaviour, or the margin). Each step's
estimate (step, window error, per-behaviour errors, decision, whether a trajectory was published) goes to
``/inference/result``.

Poses arriving while the behaviour runs are the behaviour's observations, not new jobs. Joint states that
are not finite or lack joints are ignored with one log line, extra joints are ignored (said once); stale
joint states (older than ``stale_feedback_s``) leave the joints unobserved; a block pose refused
mid-behaviour leaves the block unobserved until a valid one arrives.

The block counts as observed at a step only with a fresh pose (``StepClock.freshness``: one the
behaviour has not observed yet, its header stamp, the observation's time, at most ``stale_feedback_s``
before the step; a zero stamp counts as the time of receipt). A step without one leaves the block
unobserved and the joints still count: while the arm hides the block the camera publishes nothing
(refusal ``mostly_hidden``), and the last pose seen is never observed again as if it were new. A block
seen again where it was continues the behaviour; seen again elsewhere it has moved. A step with nothing
new at all refines the estimate on what was observed. After the block moved
(``OnlineEstimator.move_threshold`` from where it was when the estimator's window started, so a slow drift
counts once it adds up) only the block is observed for the rest of the behaviour, because the arm is
still leaving the old plan; a moved block is observed at once, not at the next step's time.

A clock jump back ends the behaviour (the node's ``on_clock_jump``) and the joint state is forgotten (its
receipt time is on the old clock); a joint state received "in the future" of the clock is never fresh.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

import numpy as np
from geometry_msgs.msg import PoseStamped
from rclpy.time import Time
from sensor_msgs.msg import JointState

from latent_nodes.inference.recognition import UNDECIDED, RecognitionMargin
from latent_nodes.inference.sequential_recognition import SequentialRecognition, default_thresholds
from latent_nodes.inference.step_clock import FRESH, OBSERVED, STALE, StepClock
from latent_nodes.nodes import messages
from latent_nodes.nodes.inference_node import AUTO, InferenceNode, Job


def recognition_rule(settings) -> RecognitionMargin | SequentialRecognition:
    """The rule that names the behaviour under ``auto``, from the node's settings (a NodesConfig).

    A new one for every behaviour shown: the sequential rule accumulates evidence over one behaviour's steps
    and must start each behaviour with none (the margin keeps no state).
    """
    if settings.recognition_rule == "margin":
        return RecognitionMargin(max_error=settings.recognition_max_error)
    return SequentialRecognition(default_thresholds(settings))


class OnlineMode:
    """One behaviour at a time, observed step by step; holds the latest block pose and joint state."""

    holds_behaviour = True

    def __init__(self, node: InferenceNode) -> None:
        self.node = node
        self.joints: tuple[np.ndarray, Time] | None = None  # latest valid /joint_states and when it came
        # The latest accepted block pose and its time (header stamp, ns; receipt if unstamped), None after a refusal.
        self.block: tuple[np.ndarray, int] | None = None
        self.extra_joints: frozenset[str] = frozenset()  # extra names already reported
        node.create_subscription(JointState, messages.JOINT_STATES, self.on_joint_states, 10)

    # --- executor thread (the node's lock held where the node calls) -----------------------------------------

    def take_pose(self, xy: np.ndarray, msg: PoseStamped, running: bool) -> bool:
        """Keep the pose as the latest; the running behaviour samples it (a moved block at once, see
        ``sleep_until``), otherwise it starts the next behaviour.
        """
        stamp_ns = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        self.block = (xy, stamp_ns or self.node.get_clock().now().nanoseconds)
        return running

    def pose_refused(self) -> None:
        self.block = None  # the block is not where it was: observe none until a valid pose

    def forget_clock(self) -> None:
        self.joints = None  # received on a clock that no longer runs

    def on_joint_states(self, msg: JointState) -> None:
        """Keep the latest valid joint state; a bad one is ignored with one line."""
        node = self.node
        try:
            q = messages.joint_positions(msg, node.joint_names)
        except ValueError as exc:  # missing joints, non-finite positions, names and positions disagree
            node.health.count("ignored_joint_states", event=True)
            node.get_logger().warning(f"ignoring /joint_states: {exc}", throttle_duration_sec=1.0)
            with node.wake:
                self.joints = None  # the arm's position is unknown now, not where the last good state had it
            return
        extra = frozenset(msg.name) - set(node.joint_names)
        if extra and extra != self.extra_joints:
            node.get_logger().warning(f"/joint_states names joints the model does not know, ignored: {sorted(extra)}")
        self.extra_joints = extra
        with node.wake:
            self.joints = (q, node.get_clock().now())

    # --- worker thread: one behaviour, step by step ------------------------------------------------------

    def serve(self, job: Job) -> None:
        """Observe, re-infer and publish at every step of one behaviour that starts now."""
        from latent_nodes.inference.completion import InvalidObservation
        from latent_nodes.inference.online import OnlineEstimator

        node = self.node
        clock = node.get_clock()
        start = clock.now()  # the behaviour's start: every trajectory of this behaviour is stamped with it
        behaviour = None if job.behaviour == AUTO else job.behaviour
        margin = recognition_rule(node.settings)
        estimator = OnlineEstimator(node.completer, behaviour, window=node.settings.online_window or None,
                                    margin=margin)
        timing = StepClock(start.nanoseconds, node.dt, estimator.seq_len)
        published: np.ndarray | None = None  # the last trajectory sent, [T, J]
        leaving, stale_said, block_said = False, False, False  # leaving: the arm is leaving the old plan
        seen_ns: int | None = None  # the time of the last block pose observed
        for step in range(estimator.seq_len):
            # Where the block was when the estimator's window started (the job's pose before any step): a
            # block more than the threshold from there has moved, however slowly it got there.
            anchor = estimator.window_block if estimator.window_block is not None else job.xy
            # Step 0 at once: the arm is still at home, the first point.
            if step > 0:
                moved = partial(self.moved_since, anchor, estimator.move_threshold, timing, seen_ns)
                if not self.sleep_until(timing.due_ns(step), moved):
                    self.end(step)
                    return
                # Slower than real time: observe the current step, skip the missed ones (never the last).
                if timing.reached(clock.now().nanoseconds) > step:
                    continue
            with node.wake:
                latest, joints = self.block, self.joints
            now_ns = clock.now().nanoseconds
            block = None
            if latest is not None:
                # Step 0 observes the pose that started the behaviour; later steps only a fresh one.
                fresh = FRESH if step == 0 else timing.freshness(latest[1], now_ns, seen_ns,
                                                                 node.settings.stale_feedback_s)
                if fresh == FRESH:
                    block, seen_ns, block_said = latest[0], latest[1], False
                elif fresh != OBSERVED and not block_said:
                    block_said = True
                    age = (now_ns - latest[1]) * 1e-9
                    why = (f"stale ({age:.2f} s old)" if fresh == STALE
                           else f"stamped {-age:.2f} s ahead of the node's clock")
                    node.get_logger().warning(f"/block_pose is {why}: step {step} leaves the block unobserved")
            if block is not None and np.linalg.norm(block - anchor) > estimator.move_threshold:
                leaving = True  # from now on the arm is leaving the old plan: its joints would mislead
            q = None
            if joints is not None and not leaving:
                age = (clock.now() - joints[1]).nanoseconds * 1e-9
                if 0.0 <= age <= node.settings.stale_feedback_s:  # "received in the future": another clock's
                    q, stale_said = joints[0], False
                elif not stale_said:
                    stale_said = True
                    why = f"stale ({age:.2f} s old)" if age > 0 else f"stamped {-age:.2f} s ahead of the node's clock"
                    node.get_logger().warning(f"/joint_states is {why}: step {step} observes the block only")
            if block is None and q is None and estimator.estimate is None:
                continue  # nothing observed yet; why (refused pose, stale joints) was logged already
            try:
                estimate = estimator.observe(block, q, step=step)
            except InvalidObservation as exc:
                node.get_logger().warning(f"step {step} not observed: {exc}")
                continue
            except Exception as exc:  # noqa: BLE001 - a failed inference must not end the behaviour
                node.failed("step", f"online inference failed at step {step}", exc)
                continue
            with node.wake:
                if node.clock_jumped or node.stopping:  # the estimate is timed on a clock that went back
                    self.end(step)
                    return
            try:
                published = self.publish(estimate, start, published, job, seen_ns if block is not None else None)
            except Exception as exc:  # noqa: BLE001 - one step's failure must not end the behaviour
                node.failed("publish", f"publishing the online estimate failed at step {step}", exc)
        node.get_logger().info(f"online behaviour done ({estimator.seq_len} steps)")

    def end(self, step: int) -> None:
        """Say why a behaviour ends before its last step (stopping quietly, or a clock jump)."""
        if self.node.clock_jumped:
            self.node.get_logger().info(f"online behaviour ended at step {step}: the clock jumped back")

    def moved_since(self, anchor: np.ndarray, threshold: float, timing: StepClock, seen_ns: int | None) -> bool:
        """Whether the latest block pose is fresh and lies more than ``threshold`` metres from ``anchor`` (lock
        held). A stale one is no reason to hurry: it will not be observed.
        """
        if self.block is None or float(np.linalg.norm(self.block[0] - anchor)) <= threshold:
            return False
        now_ns = self.node.get_clock().now().nanoseconds
        return timing.freshness(self.block[1], now_ns, seen_ns, self.node.settings.stale_feedback_s) == FRESH

    def sleep_until(self, due_ns: int, urgent: Callable[[], bool]) -> bool:
        """Wait for the node clock to reach ``due_ns``, or until ``urgent()`` (called with the lock held):
        a moved block is observed at once as the next step, every step of delay is one the arm follows the
        old plan. False when the node is stopping or the clock jumped back (the behaviour ends).
        """
        node = self.node
        clock = node.get_clock()
        with node.wake:
            while not node.stopping and not node.clock_jumped:
                left = (due_ns - clock.now().nanoseconds) * 1e-9
                if left <= 0 or urgent():
                    return True
                node.wake.wait(timeout=min(left, 0.05))
        return False

    def publish(self, estimate, start: Time, published: np.ndarray | None, job: Job,
                block_ns: int | None) -> np.ndarray | None:
        """Publish the trajectory if decided and changed beyond the tolerance; the step's result always
        (``block_ns``: the time of the block pose this step observed, None if it observed none).
        """
        node = self.node
        completion, recognition, step = estimate.completion, estimate.recognition, estimate.step
        decision = completion.behaviour if recognition is None else recognition.decision
        change = estimate.change_from(published)
        send = decision != UNDECIDED and change > node.settings.online_tolerance
        if send:
            node.publish_trajectory(completion, stamp=start)
            published = completion.joints
        total = time.perf_counter() - job.received if step == 0 else completion.latency_s
        node.health.latency(completion.latency_s)
        errors = {completion.behaviour: estimate.window_error} if recognition is None else recognition.errors
        node.publish_result(
            completion, job, total, mode="online", step=step, decision=decision, published=send, change_rad=change,
            window_error=estimate.window_error, joint_rms=estimate.joint_rms, errors=errors,
            window=list(estimate.window), block_observed=estimate.block_observed,
            block_stamp=None if block_ns is None else block_ns * 1e-9,
            block_steps=list(estimate.block_steps), joint_steps=list(estimate.joint_steps),
            behaviour_start=start.nanoseconds * 1e-9)
        if decision == UNDECIDED:
            node.get_logger().info(f"step {step}: behaviour undecided (errors {errors}); nothing published",
                                   throttle_duration_sec=1.0)
        return published
