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

The search itself (``inference.steps``, ``inference.n_starts``, ...) starts from the settings stored with
the model and can be overridden per deployment. The behaviour comes from the ``behaviour`` parameter,
changeable at run time, and from ``/behaviour`` (std_msgs/String), which sets that parameter.
"""

from __future__ import annotations

import threading
import time
import warnings
from dataclasses import dataclass

import numpy as np
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from std_msgs.msg import String
from trajectory_msgs.msg import JointTrajectory

from latent_nodes.config import InferenceConfig, NodesConfig
from latent_nodes.nodes import messages
from latent_nodes.nodes.diagnostics import ERROR, OK, WARN, Health
from latent_nodes.nodes.parameters import declare_section
from latent_nodes.nodes.runner import StartupError, run_node


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

        from latent_nodes.checkpoint import CheckpointError
        from latent_nodes.completion import BehaviourCompleter

        self.settings = declare_section(
            self, NodesConfig, only=["model_path", "behaviour", "frame_id", "torch_threads", "out_of_domain",
                                     "domain_margin"],
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
        reason = self.check_behaviour(self.settings.behaviour)
        if reason:
            raise StartupError(reason)
        self.joint_names = list(self.completer.joint_names)
        self.dt = self.completer.dt
        self.warm_up()

        self.trajectory_pub = self.create_publisher(JointTrajectory, messages.COMPLETED_BEHAVIOUR, 10)
        self.result_pub = self.create_publisher(String, messages.INFERENCE_RESULT, 10)
        self.create_subscription(PoseStamped, messages.BLOCK_POSE, self.on_pose,  # best effort: any publisher matches
                                 QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT))
        self.create_subscription(String, messages.BEHAVIOUR, self.on_behaviour, 10)

        self.mailbox: Job | None = None
        self.health = Health(self, self.health_status)
        self.wake = threading.Condition()
        self.stopping = False
        self.worker = threading.Thread(target=self.work, name="inference", daemon=True)
        self.worker.start()
        self.get_logger().info(
            f"model {self.settings.model_path or 'shipped default'}: behaviours {list(self.completer.behaviours)}, "
            f"{len(self.joint_names)} joints, {self.completer.config.model.seq_len} steps of {self.dt:g} s; "
            f"completing {self.settings.behaviour!r}; trained region {self.completer.describe_domain(s.behaviour)}, "
            f"out_of_domain {s.out_of_domain} beyond {s.domain_margin:g} m")

    def check_behaviour(self, name: str) -> str | None:
        """Why ``name`` cannot be completed, or None (a parameter validator: returns, never raises)."""
        try:
            self.completer.behaviour_index(name)
        except ValueError as exc:  # InvalidObservation
            return str(exc)
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
        self.completer.complete(centre, self.settings.behaviour)

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
            self.completer.assess(xy, behaviour)
        except ValueError as exc:  # InvalidObservation: non-finite, off the table, or out of the domain
            self.refuse(exc)
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

    def refuse(self, exc: ValueError) -> None:
        """One warning line for a refused pose, counted for /diagnostics by kind."""
        from latent_nodes.completion import OutOfDomain

        self.health.count("refused_out_of_domain" if isinstance(exc, OutOfDomain) else "refused_invalid", event=True)
        self.get_logger().warning(f"refusing block pose: {exc}")

    def health_status(self) -> tuple[int, str, dict]:
        """Level, message and values for /diagnostics."""
        values = {"model_file": self.settings.model_path or "shipped default", "behaviour": self.settings.behaviour,
                  "domain": self.completer.describe_domain(self.settings.behaviour),
                  "out_of_domain": f"{self.settings.out_of_domain} beyond {self.settings.domain_margin:g} m"}
        if self.health.recent("failed"):
            return ERROR, "inference failed recently (see the log)", values
        if self.completer.ckpt.domain is None:
            return WARN, "the model records no domain: out-of-domain poses cannot be recognized", values
        if self.health.recent("refused_out_of_domain") or self.health.recent("refused_invalid"):
            return WARN, "block poses refused recently (see the log)", values
        return OK, "serving", values

    # --- worker thread: infer and publish -----------------------------------------------------------------

    def work(self) -> None:
        while True:
            with self.wake:
                while self.mailbox is None and not self.stopping:
                    self.wake.wait()
                if self.stopping:
                    return
                job, self.mailbox = self.mailbox, None
            try:
                completion = self.completer.complete(job.xy, job.behaviour)
            except ValueError as exc:  # InvalidObservation (checked already, but the model is the judge)
                self.refuse(exc)
                continue
            except Exception as exc:  # noqa: BLE001 - a failed inference must not end the node
                self.health.count("failed", event=True)
                self.get_logger().error(f"inference failed for block {job.xy.tolist()}: {exc}")
                continue
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
