"""Inference: a block pose in, the completed behaviour out.

For each pose on ``/block_pose`` the node runs the core's deployment call (first-step perception ->
xi* -> the whole sequence) and publishes the 20-step joint trajectory on ``/completed_behaviour`` and
what inference found (xi, z, error, latency) as JSON on ``/inference/result``.

Inference takes tens of milliseconds, so it runs on a worker thread, not in the executor's callback:
the subscription callback only validates the pose and drops it into a one-slot mailbox. A newer pose
replaces an unprocessed older one, so under a flood the node stays current and its memory stays
bounded (the subscription's queue depth is one as well). Bad input (non-finite, off the table, another
frame, an unknown behaviour) is refused with one log line and nothing is published. So is a pose further
than ``domain_margin`` outside the block positions the model was trained on, under the default
``out_of_domain: refuse`` (``warn`` completes it with a warning line, ``allow`` silently); the log line
names the pose, the distance outside and the trained region.

Once a second the node reports its health on ``/diagnostics``: model file, domain, latency p50/p99,
poses completed, dropped, refused (out of domain, invalid) and failed; WARN after a recent refusal or
for a model without a domain record, ERROR after a recent failed inference.

A failure while serving one pose (or one online step), be it the inference, building the trajectory or
publishing, is logged (one line, repeats throttled; the traceback at debug level), counted as
``failed`` and the worker goes on with the next. Should the worker thread itself end on an error, the
node reports ERROR on ``/diagnostics`` at once and stops with exit status 1 (``runner.fail_node``), so
``ros2 launch`` respawns it: a node that only looks alive would never complete a pose again.

With ``mode: online`` the first pose starts a behaviour and the node keeps inferring while it runs
(docs/online.md): it also subscribes ``/joint_states``, samples the latest block pose and joint state
at every step of the model's dt, updates an ``OnlineEstimator`` and publishes an updated trajectory
whenever the remaining points move by more than ``online_tolerance`` (rad). Every trajectory is stamped
with the behaviour's start, so the commander splices it in at the current phase instead of restarting.
``behaviour: auto`` recognizes the behaviour from the observed prefix and publishes nothing while the
recognition abstains. Each step's estimate (step, window error, per-behaviour errors, decision, whether
a trajectory was published) goes to ``/inference/result``. Joint states that are not finite or lack
joints are ignored with one log line, extra joints are ignored (said once); stale joint states (older
than ``stale_feedback_s``) leave the joints unobserved; a block pose refused mid-behaviour leaves the
block unobserved until a valid one arrives; after the block moved (``OnlineEstimator.move_threshold``)
only the block is observed for the rest of the behaviour, because the arm is still leaving the old plan.
The block has moved when it lies more than the threshold from where it was when the estimator's window
started, so a slow drift counts once it adds up.

A clock jump back (simulated time restarting with a reset CoppeliaSim scene), or a change of clock source,
ends the running online behaviour at once and forgets the joint state (its receipt time is on the old
clock); the next block pose starts a new behaviour on the new clock. A joint state received "in the
future" of the clock is never fresh.

The search itself (``inference.steps``, ``inference.n_starts``, ...) starts from the settings stored with
the model and can be overridden per deployment. The behaviour comes from the ``behaviour`` parameter,
changeable at run time, and from ``/behaviour`` (std_msgs/String), which sets that parameter: one of the
loaded model's behaviour names (whatever its dataset called them, one or more), ``auto``, or at start-up
empty for the model's first; any other name is refused with the model's names.
"""

from __future__ import annotations

import threading
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
from geometry_msgs.msg import PoseStamped
from rclpy.clock import ClockChange, JumpThreshold, TimeJump
from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.time import Time
from sensor_msgs.msg import JointState
from std_msgs.msg import String
from trajectory_msgs.msg import JointTrajectory

from latent_nodes.config import InferenceConfig, NodesConfig
from latent_nodes.inference.recognition import UNDECIDED, RecognitionMargin
from latent_nodes.nodes import messages
from latent_nodes.nodes.diagnostics import ERROR, OK, WARN, Health
from latent_nodes.nodes.parameters import declare_section
from latent_nodes.nodes.runner import StartupError, fail_node, run_node

AUTO = "auto"  # the behaviour parameter's value that asks for recognition (online mode)
FAILURE_REPEAT_S = 10.0  # the same failure of the worker is logged at most once per this many seconds


@dataclass
class Job:
    """One pose waiting for inference."""

    xy: np.ndarray
    behaviour: str
    stamp: float  # the pose's header stamp, seconds
    received: float  # time.perf_counter() at receipt, for the end-to-end latency


class InferenceNode(Node):
    """Validates poses in the callback, completes behaviours on a worker thread, publishes the result."""

    def __init__(self, **kwargs) -> None:
        super().__init__("inference", **kwargs)
        import torch

        from latent_nodes.inference.completion import BehaviourCompleter
        from latent_nodes.model.checkpoint import CheckpointError

        self.settings = declare_section(
            self, NodesConfig, only=["model_path", "behaviour", "frame_id", "torch_threads", "out_of_domain",
                                     "domain_margin", "mode", "online_tolerance", "online_window",
                                     "stale_feedback_s", "recognition_max_error"],
            dynamic=["behaviour"], validators={"behaviour": self.check_behaviour})
        torch.set_num_threads(max(1, self.settings.torch_threads))
        s = self.settings
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                self.completer = BehaviourCompleter.from_checkpoint(
                    s.model_path or None, out_of_domain=s.out_of_domain, domain_margin=s.domain_margin)
        except CheckpointError as exc:
            raise StartupError(f"{exc} (set the model_path parameter, or train a model: latent-nodes train)") from None
        for warning in caught:  # e.g. an older model file without a domain record
            self.get_logger().warning(str(warning.message))
        # The search settings start from the model's own and may be tuned per deployment (e.g. fewer
        # steps for latency), as ``inference.steps`` etc.
        search = declare_section(self, InferenceConfig, prefix="inference.", defaults=self.completer.inference_cfg)
        if search != self.completer.inference_cfg:
            self.completer = self.completer.with_settings(search)
        if not self.settings.behaviour:  # the default: the model's first behaviour, whatever its names
            self.set_parameters([Parameter("behaviour", value=self.completer.behaviours[0])])
        reason = self.check_behaviour(self.settings.behaviour)
        if reason:
            raise StartupError(f"parameter behaviour: {reason}")
        self.joint_names = list(self.completer.joint_names)
        self.dt = self.completer.dt
        self.warm_up()

        self.trajectory_pub = self.create_publisher(JointTrajectory, messages.COMPLETED_BEHAVIOUR, 10)
        self.result_pub = self.create_publisher(String, messages.INFERENCE_RESULT, 10)
        self.create_subscription(PoseStamped, messages.BLOCK_POSE, self.on_pose,  # best effort: any publisher matches
                                 QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT))
        self.create_subscription(String, messages.BEHAVIOUR, self.on_behaviour, 10)
        self.online = s.mode == "online"
        self.joints: tuple[np.ndarray, Time] | None = None  # latest valid /joint_states and when it came
        self.block: np.ndarray | None = None  # latest accepted block pose (online), None after a refusal
        self.extra_joints: frozenset[str] = frozenset()  # extra names already reported
        if self.online:
            self.create_subscription(JointState, messages.JOINT_STATES, self.on_joint_states, 10)

        self.mailbox: Job | None = None
        self.running = False  # an online behaviour is being observed (it consumes the poses meanwhile)
        self.clock_jumped = False  # the clock jumped back during the running behaviour: it ends
        self.health = Health(self, self.health_status)
        self.wake = threading.Condition()
        self.stopping = False
        self.worker_error: str | None = None  # why the worker thread ended, if it did on an error
        self.failures_said: dict[str, tuple[float, int]] = {}  # failure kind -> (when logged, not logged since)
        # Any backward jump (simulated time restarting with a reset world), as the commander; kept with the node.
        self.jump_handle = self.get_clock().create_jump_callback(
            JumpThreshold(min_forward=None, min_backward=Duration(nanoseconds=-1), on_clock_change=True),
            post_callback=self.on_clock_jump)
        self.worker = threading.Thread(target=self.work, name="inference", daemon=True)
        self.worker.start()
        self.get_logger().info(
            f"model {self.settings.model_path or 'shipped default'}: behaviours {list(self.completer.behaviours)}, "
            f"{len(self.joint_names)} joints, {self.completer.config.model.seq_len} steps of {self.dt:g} s; "
            f"completing {self.settings.behaviour!r} ({s.mode}); trained region "
            f"{self.completer.describe_domain(self.domain_behaviour(s.behaviour))}, "
            f"out_of_domain {s.out_of_domain} beyond {s.domain_margin:g} m")

    def domain_behaviour(self, name: str, xy: np.ndarray | None = None) -> str:
        """The behaviour whose trained region judges poses: under ``auto`` the one trained nearest ``xy``
        (behaviours recorded at different positions each keep their region), the first without a pose.
        """
        if name != AUTO:
            return name
        return self.completer.behaviours[0] if xy is None else self.completer.nearest_region(xy)

    def check_behaviour(self, name: str) -> str | None:
        """Why ``name`` cannot be completed, or None (a parameter validator: returns, never raises).

        The names are the loaded model's, however many and whatever they are called (its dataset's labels);
        ``auto`` recognizes among all of them, also when there is only one (it is then named once the
        window fits: inference/recognition.py).
        """
        if name == AUTO:
            return None if self.settings.mode == "online" else "behaviour auto needs mode online"
        if name not in self.completer.behaviours:
            return (f"unknown behaviour {name!r}; the model {self.settings.model_path or 'shipped default'} knows "
                    f"{', '.join(self.completer.behaviours)} (or auto, with mode online)")
        return None

    def warm_up(self) -> None:
        """One inference at start-up, so the first real pose does not pay for lazy initialisation.

        At the middle of the block positions the model was trained on (another robot's may lie outside the
        embedded arm's workspace, where the pose would be refused); the workspace centre for a model
        without them.
        """
        trained = self.completer.ckpt.sample_block_xy
        sim = self.completer.config.sim
        centre = ([float(np.mean(sim.workspace_x)), float(np.mean(sim.workspace_y))] if trained is None
                  else np.asarray(trained, dtype=np.float64)[:, :2].mean(axis=0).tolist())
        self.completer.complete(centre, self.domain_behaviour(self.settings.behaviour))

    # --- executor thread: validate and hand over ----------------------------------------------------------

    def on_pose(self, msg: PoseStamped) -> None:
        received = time.perf_counter()
        frame = msg.header.frame_id
        if frame != self.settings.frame_id:
            self.get_logger().warning(f"refusing block pose in frame {frame!r}: the model works in the "
                                      f"{self.settings.frame_id!r} frame (table plane, metres)")
            return
        xy = messages.block_xy(msg)
        behaviour = self.settings.behaviour
        try:
            self.completer.assess(xy, self.domain_behaviour(behaviour, xy))
        except ValueError as exc:  # InvalidObservation: non-finite, off the table, or out of the domain
            if self.online:
                with self.wake:
                    self.block = None  # the block is not where it was: observe none until a valid pose
            self.refuse(exc)
            return
        if self.online:
            with self.wake:
                self.block = xy
                # The running behaviour samples it; a moved block at once (see sleep_until). After a clock
                # jump the running one is ending: this pose waits in the mailbox and starts the next.
                if self.running and not self.clock_jumped:
                    self.wake.notify()
                    return
        job = Job(xy=xy, behaviour=behaviour, stamp=messages.time_to_seconds(msg.header.stamp), received=received)
        with self.wake:
            if self.mailbox is not None:
                self.health.count("dropped")
            self.mailbox = job
            self.wake.notify()

    def on_behaviour(self, msg: String) -> None:
        name = msg.data.strip()
        reason = self.check_behaviour(name)
        if reason:
            self.get_logger().warning(f"refusing /behaviour: {reason}")
            return
        if name != self.settings.behaviour:
            self.set_parameters([Parameter("behaviour", value=name)])

    def on_joint_states(self, msg: JointState) -> None:
        """Keep the latest valid joint state (online mode); a bad one is ignored with one line."""
        try:
            q = messages.joint_positions(msg, self.joint_names)
        except ValueError as exc:  # missing joints, non-finite positions, names and positions disagree
            self.health.count("ignored_joint_states", event=True)
            self.get_logger().warning(f"ignoring /joint_states: {exc}", throttle_duration_sec=1.0)
            with self.wake:
                self.joints = None  # the arm's position is unknown now, not where the last good state had it
            return
        extra = frozenset(msg.name) - set(self.joint_names)
        if extra and extra != self.extra_joints:
            self.get_logger().warning(f"/joint_states names joints the model does not know, ignored: {sorted(extra)}")
        self.extra_joints = extra
        with self.wake:
            self.joints = (q, self.get_clock().now())

    def on_clock_jump(self, jump: TimeJump) -> None:
        """The clock went back or changed source: the running behaviour's timing and the joint state's age
        are on a clock that no longer runs. End the behaviour (the worker wakes) and forget the joint state.
        """
        with self.wake:
            self.joints = None
            running = self.running
            if running:
                self.clock_jumped = True
                self.wake.notify_all()
        source = jump.clock_change in (ClockChange.ROS_TIME_ACTIVATED, ClockChange.ROS_TIME_DEACTIVATED)
        change = "changed source" if source else f"jumped back {-jump.delta.nanoseconds * 1e-9:.2f} s"
        if running:
            self.health.count("ended_clock_jump", event=True)
            self.get_logger().warning(f"the clock {change}: the running behaviour ends; the next block pose "
                                      f"starts a new one")
        else:
            self.get_logger().info(f"the clock {change}: the last joint state is forgotten")

    def refuse(self, exc: ValueError) -> None:
        """One warning line for a refused pose, counted for /diagnostics by kind."""
        from latent_nodes.inference.completion import OutOfDomain

        self.health.count("refused_out_of_domain" if isinstance(exc, OutOfDomain) else "refused_invalid", event=True)
        self.get_logger().warning(f"refusing block pose: {exc}")

    def health_status(self) -> tuple[int, str, dict]:
        """Level, message and values for /diagnostics."""
        values = {"model_file": self.settings.model_path or "shipped default", "behaviour": self.settings.behaviour,
                  "domain": self.completer.describe_domain(self.domain_behaviour(self.settings.behaviour)),
                  "out_of_domain": f"{self.settings.out_of_domain} beyond {self.settings.domain_margin:g} m"}
        if self.worker_error is not None:
            return ERROR, f"the inference worker died ({self.worker_error}); the node stops to be respawned", values
        if self.health.recent("failed"):
            return ERROR, "inference failed recently (see the log)", values
        if self.completer.ckpt.domain is None:
            return WARN, "the model records no domain: out-of-domain poses cannot be recognized", values
        if self.health.recent("refused_out_of_domain") or self.health.recent("refused_invalid"):
            return WARN, "block poses refused recently (see the log)", values
        return OK, "serving", values

    # --- worker thread: infer and publish -----------------------------------------------------------------

    def work(self) -> None:
        """The worker thread: serves jobs until the node stops. Should it ever end on an error, the node
        must not look alive: ERROR on /diagnostics at once, then the process stops with status 1.
        """
        try:
            self.serve_jobs()
        except BaseException as exc:  # noqa: BLE001 - whatever ended the thread, it is reported, never silent
            self.worker_died(exc)

    def serve_jobs(self) -> None:
        """Take each job from the mailbox and serve it; one job's failure is logged and counted, no more."""
        while True:
            with self.wake:
                while self.mailbox is None and not self.stopping:
                    self.wake.wait()
                if self.stopping:
                    return
                job, self.mailbox = self.mailbox, None
                self.running = self.online
            try:
                if self.online:
                    self.run_online(job)
                else:
                    self.complete(job)
            except Exception as exc:  # noqa: BLE001 - one pose's failure must not end the worker
                self.failed("job", f"inference failed for block {job.xy.tolist()}", exc)
            finally:
                with self.wake:
                    self.running = self.clock_jumped = False

    def complete(self, job: Job) -> None:
        """One pose (mode once): complete the behaviour, publish the trajectory and the result."""
        try:
            completion = self.completer.complete(job.xy, job.behaviour)
        except ValueError as exc:  # InvalidObservation (checked already, but the model is the judge)
            self.refuse(exc)
            return
        if completion.warning:
            self.health.count("completed_out_of_domain")
            self.get_logger().warning(f"completing anyway (out_of_domain: warn): {completion.warning}")
        self.trajectory_pub.publish(messages.joint_trajectory(self.joint_names, completion.joints, self.dt))
        total = time.perf_counter() - job.received
        self.health.count("completed")
        self.health.latency(total)
        self.result_pub.publish(messages.json_string({
            "behaviour": completion.behaviour, "block_xy": completion.block_xy, "xi": completion.xi,
            "z": completion.z, "error": completion.error, "latency_s": completion.latency_s,
            "pose_to_trajectory_s": total, "pose_stamp": job.stamp,
            "dropped": self.health.counter("dropped"), **completion.domain.to_dict()}))
        xi = "-" if completion.xi is None else np.array2string(completion.xi, precision=3)
        self.get_logger().info(
            f"{completion.behaviour} for block ({job.xy[0]:.3f}, {job.xy[1]:.3f}): xi* {xi}, "
            f"error {completion.error:.2e}, {1e3 * completion.latency_s:.1f} ms")

    def failed(self, kind: str, what: str, exc: Exception) -> None:
        """Count a failed job or step (ERROR on /diagnostics for a while) and log it in one line.

        The same failure (``kind`` of work, and the exception type) repeating is logged at most once per
        ``FAILURE_REPEAT_S`` with the count of those not logged; the traceback goes to debug.
        """
        self.health.count("failed", event=True)
        key, now = f"{kind}: {type(exc).__name__}", time.monotonic()
        said_at, unsaid = self.failures_said.get(key, (None, 0))
        if said_at is not None and now - said_at < FAILURE_REPEAT_S:
            self.failures_said[key] = (said_at, unsaid + 1)
            return
        self.failures_said[key] = (now, 0)
        again = f" ({unsaid} more since the last line)" if unsaid else ""
        self.get_logger().error(f"{what}: {type(exc).__name__}: {exc}{again}")
        self.get_logger().debug("".join(traceback.format_exception(exc)))

    def worker_died(self, exc: BaseException) -> None:
        """The worker thread ends on ``exc``: report ERROR now and stop the node (exit 1, respawned by launch)."""
        self.worker_error = f"{type(exc).__name__}: {exc}"
        self.get_logger().error(f"the inference worker died: {self.worker_error}; no pose can be completed, "
                                f"the node stops")
        self.get_logger().debug("".join(traceback.format_exception(exc)))
        try:
            self.health.publish()  # ERROR on /diagnostics before the process goes
        finally:
            fail_node(self, f"the inference worker died ({self.worker_error})")

    # --- worker thread, online mode: one behaviour, step by step -------------------------------------------

    def run_online(self, job: Job) -> None:
        """Observe, re-infer and publish at every step of one behaviour that starts now."""
        from latent_nodes.inference.completion import InvalidObservation
        from latent_nodes.inference.online import OnlineEstimator

        clock = self.get_clock()
        start = clock.now()  # the behaviour's start: every trajectory of this behaviour is stamped with it
        behaviour = None if job.behaviour == AUTO else job.behaviour
        margin = RecognitionMargin(max_error=self.settings.recognition_max_error)
        estimator = OnlineEstimator(self.completer, behaviour, window=self.settings.online_window or None,
                                    margin=margin)
        published: np.ndarray | None = None  # the last trajectory sent, [T, J]
        moved, stale_said = False, False
        for step in range(estimator.seq_len):
            # Where the block was when the estimator's window started (the job's pose before any step): a
            # block more than the threshold from there has moved, however slowly it got there.
            anchor = estimator.window_block if estimator.window_block is not None else job.xy
            # Step k is due (k + 1) * dt after the start (the trajectory's timing); step 0 at once: the arm
            # is still at home, the first point.
            if step > 0:
                due = start.nanoseconds + int(round((step + 1) * self.dt * 1e9))
                moved_from = partial(self.moved_from, anchor, estimator.move_threshold)
                if not self.sleep_until(due, moved_from):
                    self.end_online(step)
                    return
                behind = int((clock.now().nanoseconds - start.nanoseconds) * 1e-9 / self.dt + 1e-9) - 1
                # Slower than real time: observe the current step, skip the missed ones (never the last).
                if min(behind, estimator.seq_len - 1) > step:
                    continue
            with self.wake:
                block, joints = self.block, self.joints
            if block is not None and np.linalg.norm(block - anchor) > estimator.move_threshold:
                moved = True  # from now on the arm is leaving the old plan: its joints would mislead
            q = None
            if joints is not None and not moved:
                age = (clock.now() - joints[1]).nanoseconds * 1e-9
                if 0.0 <= age <= self.settings.stale_feedback_s:  # "received in the future": another clock's
                    q, stale_said = joints[0], False
                elif not stale_said:
                    stale_said = True
                    why = f"stale ({age:.2f} s old)" if age > 0 else f"stamped {-age:.2f} s ahead of the node's clock"
                    self.get_logger().warning(f"/joint_states is {why}: step {step} observes the block only")
            if block is None and q is None:
                continue  # nothing to observe; why (refused pose, stale joints) was logged already
            try:
                estimate = estimator.observe(block, q, step=step)
            except InvalidObservation as exc:
                self.get_logger().warning(f"step {step} not observed: {exc}")
                continue
            except Exception as exc:  # noqa: BLE001 - a failed inference must not end the behaviour
                self.failed("step", f"online inference failed at step {step}", exc)
                continue
            with self.wake:
                if self.clock_jumped or self.stopping:  # the estimate is timed on a clock that went back
                    self.end_online(step)
                    return
            try:
                published = self.publish_online(estimate, start, published, job)
            except Exception as exc:  # noqa: BLE001 - one step's failure must not end the behaviour
                self.failed("publish", f"publishing the online estimate failed at step {step}", exc)
        self.get_logger().info(f"online behaviour done ({estimator.seq_len} steps)")

    def end_online(self, step: int) -> None:
        """Say why a behaviour ends before its last step (stopping quietly, or a clock jump)."""
        if self.clock_jumped:
            self.get_logger().info(f"online behaviour ended at step {step}: the clock jumped back")

    def moved_from(self, seen: np.ndarray, threshold: float) -> bool:
        """Whether the latest block pose lies more than ``threshold`` metres from ``seen`` (lock held)."""
        return self.block is not None and float(np.linalg.norm(self.block - seen)) > threshold

    def sleep_until(self, due_ns: int, urgent: Callable[[], bool]) -> bool:
        """Wait for the node clock to reach ``due_ns``, or until ``urgent()`` (called with the lock held):
        a moved block is observed at once as the next step, every step of delay is one the arm follows the
        old plan. False when the node is stopping or the clock jumped back (the behaviour ends).
        """
        clock = self.get_clock()
        with self.wake:
            while not self.stopping and not self.clock_jumped:
                left = (due_ns - clock.now().nanoseconds) * 1e-9
                if left <= 0 or urgent():
                    return True
                self.wake.wait(timeout=min(left, 0.05))
        return False

    def publish_online(self, estimate, start: Time, published: np.ndarray | None,
                       job: Job) -> np.ndarray | None:
        """Publish the trajectory if decided and changed beyond the tolerance; the step's result always."""
        completion, recognition, step = estimate.completion, estimate.recognition, estimate.step
        decision = completion.behaviour if recognition is None else recognition.decision
        joints = completion.joints
        change = float("inf") if published is None else float(np.max(np.abs(joints[step:] - published[step:])))
        send = decision != UNDECIDED and change > self.settings.online_tolerance
        if send:
            if completion.warning:
                self.health.count("completed_out_of_domain")
                self.get_logger().warning(f"completing anyway (out_of_domain: warn): {completion.warning}")
            self.trajectory_pub.publish(messages.joint_trajectory(self.joint_names, joints, self.dt,
                                                                  stamp=start.to_msg()))
            published = joints
            self.health.count("completed")
        total = time.perf_counter() - job.received if step == 0 else completion.latency_s
        self.health.latency(completion.latency_s)
        errors = {completion.behaviour: estimate.window_error} if recognition is None else recognition.errors
        self.result_pub.publish(messages.json_string({
            "mode": "online", "step": estimate.step, "behaviour": completion.behaviour, "decision": decision,
            "published": send, "change_rad": change, "window_error": estimate.window_error,
            "joint_rms": estimate.joint_rms, "errors": errors, "window": list(estimate.window),
            "behaviour_start": start.nanoseconds * 1e-9, "block_xy": completion.block_xy, "xi": completion.xi,
            "z": completion.z, "error": completion.error, "latency_s": completion.latency_s,
            "pose_to_trajectory_s": total, "pose_stamp": job.stamp, "dropped": self.health.counter("dropped"),
            **completion.domain.to_dict()}))
        if decision == UNDECIDED:
            self.get_logger().info(f"step {step}: behaviour undecided (errors {errors}); nothing published",
                                   throttle_duration_sec=1.0)
        return published

    def close(self) -> None:
        """Stop the worker thread (called before the node is destroyed)."""
        with self.wake:
            self.stopping = True
            self.wake.notify()
        self.worker.join(timeout=5.0)


def main(args: list[str] | None = None) -> int:
    return run_node(InferenceNode, "inference", args)


if __name__ == "__main__":
    raise SystemExit(main())
