"""Benchmark: /block_pose -> /completed_behaviour latency over DDS, as the launched graph sees it.

Starts the inference node as its own process with ``config/inference.yaml`` (exactly what ``ros2
launch`` starts), once per inference backend (``inference.backend``: ``torch``, the float32 reference
path the node used before, and ``numpy``, the default), each with its topics remapped under its own
prefix so that both run side by side. It publishes block poses at seeded random positions of the
workspace one at a time, alternating between the two nodes pose by pose (so both see the same load),
and times each until its JointTrajectory arrives. The node's own inference time (from
/inference/result) is reported beside it, so the DDS and executor share is visible. The node runs the
warm start (``inference.warm_start``, on by default) unless ``--no-warm-start``.

    python benchmarks/latency.py                       # the shipped model, 200 poses per backend
    python benchmarks/latency.py --backends numpy      # the default path alone
    python benchmarks/latency.py --model runs/x.pt --n 500 --params-file none   # the model's own settings

Not a test: it prints figures (recorded in docs/nodes.md) and exits 0; 2 if a node does not answer.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="", help="model file; empty: the shipped models/latent_nodes_default.pt")
    p.add_argument("--behaviour", default="reach", choices=["reach", "reach_circle"])
    p.add_argument("--n", type=int, default=200, help="poses to time")
    p.add_argument("--warmup", type=int, default=10, help="poses sent first and not timed")
    p.add_argument("--steps", type=int, default=0, help="override inference.steps (0: as config/inference.yaml says)")
    p.add_argument("--params-file", default="", help="the node's parameter file; default: the package's "
                   "config/inference.yaml ('none' for the model's own settings)")
    p.add_argument("--torch-threads", type=int, default=1)
    p.add_argument("--backends", nargs="+", default=["torch", "numpy"], choices=["torch", "numpy"],
                   help="inference.backend of the nodes timed side by side (torch: the reference path)")
    p.add_argument("--no-warm-start", action="store_true", help="inference.warm_start:=false (the multi-start search)")
    p.add_argument("--gap", type=float, default=0.02, help="seconds between a trajectory and the next pose")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


class Subject:
    """One inference node under test: its process, its topics and what arrived from it."""

    def __init__(self, node, backend: str, base_cmd: list[str]) -> None:
        from geometry_msgs.msg import PoseStamped
        from std_msgs.msg import String
        from trajectory_msgs.msg import JointTrajectory

        from latent_nodes.nodes import messages

        self.backend = backend
        prefix = f"/latency_{backend}"
        self.topics = {t: prefix + t for t in (messages.BLOCK_POSE, messages.COMPLETED_BEHAVIOUR,
                                               messages.INFERENCE_RESULT)}
        remaps = [arg for t, r in self.topics.items() for arg in ("-r", f"{t}:={r}")]
        self.proc = subprocess.Popen(base_cmd + ["-p", f"inference.backend:={backend}", *remaps],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.arrived = threading.Event()
        self.computed: list[float] = []  # BehaviourCompleter.complete, as the node reports it
        self.in_node: list[float] = []  # the node's pose receipt to its trajectory's publication
        self.latencies: list[float] = []
        node.create_subscription(JointTrajectory, self.topics[messages.COMPLETED_BEHAVIOUR],
                                 lambda msg: self.arrived.set(), 10)
        node.create_subscription(String, self.topics[messages.INFERENCE_RESULT], self.on_result, 10)
        self.pub = node.create_publisher(PoseStamped, self.topics[messages.BLOCK_POSE], 10)
        self.node = node

    def on_result(self, msg) -> None:
        result = json.loads(msg.data)
        self.computed.append(result["latency_s"])
        self.in_node.append(result["pose_to_trajectory_s"])

    def ready(self) -> bool:
        from latent_nodes.nodes import messages

        return (self.pub.get_subscription_count() > 0
                and self.node.count_publishers(self.topics[messages.COMPLETED_BEHAVIOUR]) > 0)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def percentiles(ms: np.ndarray) -> str:
    return (f"p50 {np.percentile(ms, 50):6.2f} ms   p90 {np.percentile(ms, 90):6.2f} ms   "
            f"p99 {np.percentile(ms, 99):6.2f} ms   max {ms.max():6.2f} ms")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Our own DDS domain on loopback, so the figures are not disturbed by (and do not disturb) others.
    os.environ.setdefault("ROS_DOMAIN_ID", str(random.SystemRandom().randint(1, 101)))
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    from latent_nodes.config import SimConfig, package_share
    from latent_nodes.nodes import messages

    params = args.params_file or str(package_share() / "config" / "inference.yaml")
    cmd = [sys.executable, "-m", "latent_nodes.nodes.inference_node", "--ros-args"]
    if params != "none":
        cmd += ["--params-file", params]
    cmd += ["-p", f"behaviour:={args.behaviour}", "-p", f"torch_threads:={args.torch_threads}"]
    if args.model:
        cmd += ["-p", f"model_path:={Path(args.model).resolve()}"]
    if args.steps:
        cmd += ["-p", f"inference.steps:={args.steps}"]
    if args.no_warm_start:
        cmd += ["-p", "inference.warm_start:=false"]

    rclpy.init()
    node = rclpy.create_node("latency_benchmark")
    subjects = [Subject(node, b, cmd) for b in args.backends]
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    try:
        end = time.monotonic() + 90.0
        while not all(s.ready() for s in subjects):
            for s in subjects:
                if s.proc.poll() is not None or time.monotonic() > end:
                    print(f"the inference node ({s.backend}) did not come up:\n{s.proc.stderr.read()}",
                          file=sys.stderr)
                    return 2
            time.sleep(0.05)
        time.sleep(0.5)  # let discovery settle in both directions
        sim = SimConfig()
        rng = np.random.default_rng(args.seed)
        for k in range(args.warmup + args.n):
            xy = [rng.uniform(*sim.workspace_x), rng.uniform(*sim.workspace_y)]
            for s in subjects if k % 2 == 0 else subjects[::-1]:  # alternate which node goes first
                s.arrived.clear()
                start = time.perf_counter()
                s.pub.publish(messages.block_pose(xy, "table"))
                if not s.arrived.wait(timeout=5.0):
                    print(f"no trajectory from the {s.backend} node for pose {k} within 5 s", file=sys.stderr)
                    return 2
                if k >= args.warmup:
                    s.latencies.append(time.perf_counter() - start)
                time.sleep(args.gap)
        settings = f"parameters {Path(params).name if params != 'none' else 'of the model'}"
        if args.steps:
            settings += f", inference.steps {args.steps}"
        settings += ", no warm start" if args.no_warm_start else ", warm start"
        print(f"/block_pose -> /completed_behaviour over DDS, {args.n} poses per backend, alternating "
              f"({args.behaviour}, torch threads {args.torch_threads}, {settings}):")
        summary = {}
        for s in subjects:
            ms = 1e3 * np.array(s.latencies)
            inner = 1e3 * np.array(s.computed[args.warmup:])
            summary[s.backend] = ms
            print(f"  inference.backend {s.backend}")
            print(f"    end to end  {percentiles(ms)}")
            if inner.size:
                print(f"    in the node {percentiles(1e3 * np.array(s.in_node[args.warmup:]))}   (pose received to "
                      "trajectory published)")
                print(f"    inference   {percentiles(inner)}   (BehaviourCompleter.complete inside the node)")
        if "torch" in summary and "numpy" in summary:
            before, after = summary["torch"], summary["numpy"]
            print(f"  end to end, torch / numpy: p50 {np.percentile(before, 50) / np.percentile(after, 50):.1f}x, "
                  f"p99 {np.percentile(before, 99) / np.percentile(after, 99):.1f}x")
        return 0
    finally:
        executor.shutdown(timeout_sec=1.0)
        node.destroy_node()
        rclpy.try_shutdown()
        for s in subjects:
            s.stop()


if __name__ == "__main__":
    raise SystemExit(main())
