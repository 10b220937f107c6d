"""Inference: a block pose in, the completed behaviour out; what both modes share.

The node runs the core's deployment call for the poses on ``/block_pose`` and publishes the 20-step joint
trajectory on ``/completed_behaviour`` and what inference found as JSON on ``/inference/result``. How it
infers is the ``mode`` parameter's, each mode a file of its own:

- ``glimpse`` (nodes/inference_glimpse.py): each pose is completed once, from the first-step perception;
- ``online`` (nodes/inference_online.py): the first pose starts a behaviour and the node keeps inferring
  from ``/block_pose`` and ``/joint_states`` at every step while it runs (docs/online.md).

This file is what they share. Inference takes tens of milliseconds, so it runs on a worker thread, not in
the executor's callback: the subscription callback only validates the pose and drops it into a one-slot
mailbox (a running online behaviour takes it instead). A newer pose replaces an unprocessed older one, so
under a flood the node stays current and its memory stays bounded (the subscription's queue depth is one
as well). Bad input (non-finite, off the table, another frame) is refused with one log line and nothing is
published. So is a pose further than ``domain_margin`` outside the block positions the model was trained
on, under the default ``out_of_domain: refuse`` (``warn`` completes it with a warning line, ``allow``
silently); the log line names the pose, the distance outside and the trained region.

Once a second the node reports its health on ``/diagnostics``: model file, domain, latency p50/p99,
poses completed, dropped, refused (out of domain, invalid) and failed; WARN after a recent refusal or
for a model without a domain record, ERROR after a recent failed inference.

A failure while serving one pose (or one online step), be it the inference, building the trajectory or
publishing, is logged (one line, repeats throttled; the traceback at debug level), counted as
``failed`` and the worker goes on with the next. Should the worker thread itself end on an error, the
node reports ERROR on ``/diagnostics`` at once and stops with exit status 1 (``runner.fail_node``), so
``ros2 launch`` respawns it: a node that only looks alive would never complete a pose again.

A clock jump back (simulated time restarting with a reset CoppeliaSim scene), or a change of clock source,
ends the running online behaviour at once; the mode forgets what it timed on the old clock (the joint
state's receipt), and the next block pose starts a new behaviour on the new clock.

The search itself (``inference.steps``, ``inference.n_starts``, ...) starts from the settings stored with
the model and can be overridden per deployment. The behaviour comes from the ``behaviour`` parameter,
changeable at run time, and from ``/behaviour`` (std_msgs/String), which sets that parameter: one of the
loaded model's behaviour names (whatever its dataset called them, one or more), ``auto`` (online mode),
or at start-up empty for the model's first; any other name is refused with the model's names.
"""

from __future__ import annotations

import threading
import time
import traceback
import warnings
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from geometry_msgs.msg import PoseStamped
from rclpy.clock import ClockChange, JumpThreshold, TimeJump
from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.time import Time
from std_msgs.msg import String
from trajectory_msgs.msg import JointTrajectory

from latent_nodes.config import InferenceConfig, NodesConfig
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


class Mode(Protocol):
    """How the node infers: glimpse or online. The node calls ``serve`` on the worker thread, the others on
    the executor's holding its lock (``wake``).
    """

    holds_behaviour: bool  # serving a job observes a running behaviour, which takes the poses meanwhile

    def take_pose(self, xy: np.ndarray, msg: PoseStamped, running: bool) -> bool:
        """A valid pose arrived: whether the running behaviour took it (else it becomes a job)."""

    def pose_refused(self) -> None:
        """A pose was refused: the block is not where the last valid one had it."""

    def forget_clock(self) -> None:
        """The clock jumped back or changed source: forget what was timed on the old one."""

    def serve(self, job: Job) -> None:
        """Serve one job on the worker thread (a glimpse, or a whole online behaviour)."""


class InferenceNode(Node):
    """Validates poses in the callback, serves them on a worker thread in the chosen mode, publishes."""

    def __init__(self, **kwargs) -> None:
        super().__init__("inference", **kwargs)
        import torch

        from latent_nodes.inference.completion import BehaviourCompleter
        from latent_nodes.model.checkpoint import CheckpointError

        self.settings = declare_section(
            self, NodesConfig, only=["model_path", "behaviour", "frame_id", "torch_threads", "out_of_domain",
                                     "domain_margin", "mode", "online_tolerance", "online_window",
                                     "stale_feedback_s", "recognition_rule", "recognition_max_error",
                                     "recognition_upper", "recognition_lower", "recognition_drift",
                                     "recognition_floor", "recognition_unexplained"],
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

        self.mailbox: Job | None = None
        self.running = False  # a job is being served that takes the poses meanwhile (an online behaviour)
        self.clock_jumped = False  # the clock jumped back during the running behaviour: it ends
        self.health = Health(self, self.health_status)
        self.wake = threading.Condition()
        self.stopping = False
        self.worker_error: str | None = None  # why the worker thread ended, if it did on an error
        self.failures_said: dict[str, tuple[float, int]] = {}  # failure kind -> (when logged, not logged since)
        self.mode = self.make_mode(s.mode)  # after the lock and the flags: an online mode subscribes at once
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

    def make_mode(self, name: str) -> Mode:
        """The mode's object (the ``mode`` parameter's choices are the config schema's)."""
        if name == "online":
            from latent_nodes.nodes.inference_online import OnlineMode

            return OnlineMode(self)
        from latent_nodes.nodes.inference_glimpse import GlimpseMode

        return GlimpseMode(self)

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
            with self.wake:
                self.mode.pose_refused()
            self.refuse(exc)
            return
        with self.wake:
            # After a clock jump the running behaviour is ending: the pose waits in the mailbox and starts the next.
            if self.mode.take_pose(xy, msg, self.running and not self.clock_jumped):
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

    def on_clock_jump(self, jump: TimeJump) -> None:
        """The clock went back or changed source: the running behaviour's timing (and whatever the mode timed)
        is on a clock that no longer runs. End the behaviour (the worker wakes) and let the mode forget.
        """
        with self.wake:
            self.mode.forget_clock()
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

    # --- worker thread: serve the jobs --------------------------------------------------------------------

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
                self.running = self.mode.holds_behaviour
            try:
                self.mode.serve(job)
            except Exception as exc:  # noqa: BLE001 - one pose's failure must not end the worker
                self.failed("job", f"inference failed for block {job.xy.tolist()}", exc)
            finally:
                with self.wake:
                    self.running = self.clock_jumped = False

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

    # --- worker thread: publishing, the same for both modes ------------------------------------------------

    def publish_trajectory(self, completion, stamp: Time | None = None) -> None:
        """Publish a completion's joints as the trajectory (``stamp`` None: start on receipt) and count it;
        a completion out of the domain under ``out_of_domain: warn`` says so first.
        """
        if completion.warning:
            self.health.count("completed_out_of_domain")
            self.get_logger().warning(f"completing anyway (out_of_domain: warn): {completion.warning}")
        self.trajectory_pub.publish(messages.joint_trajectory(
            self.joint_names, completion.joints, self.dt, stamp=None if stamp is None else stamp.to_msg()))
        self.health.count("completed")

    def publish_result(self, completion, job: Job, pose_to_trajectory_s: float, **fields) -> None:
        """``/inference/result``: what inference found for ``job``, the mode's ``fields`` first."""
        self.result_pub.publish(messages.json_string({
            **fields, "behaviour": completion.behaviour, "block_xy": completion.block_xy, "xi": completion.xi,
            "z": completion.z, "error": completion.error, "latency_s": completion.latency_s,
            "pose_to_trajectory_s": pose_to_trajectory_s, "pose_stamp": job.stamp,
            "dropped": self.health.counter("dropped"), **completion.domain.to_dict()}))

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
