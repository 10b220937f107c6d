"""Benchmark: /block_pose -> /completed_behaviour latency over DDS, as the launched graph sees it.

Starts the inference node as its own process with ``config/inference.yaml`` (exactly what ``ros2
launch`` starts), publishes block poses at seeded random positions of the workspace one at a time, and
times each until its JointTrajectory arrives. The node's own inference time (from /inference/result) is
reported beside it, so the DDS and executor share is visible.

    python benchmarks/latency.py                       # the shipped model, 200 poses
    python benchmarks/latency.py --model runs/x.pt --n 500 --params-file none   # the model's own settings

Not a test: it prints figures (recorded in docs/nodes.md) and exits 0; 2 if the node does not answer.
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
    p.add_argument("--gap", type=float, default=0.02, help="seconds between a trajectory and the next pose")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Our own DDS domain on loopback, so the figures are not disturbed by (and do not disturb) others.
    os.environ.setdefault("ROS_DOMAIN_ID", str(random.SystemRandom().randint(1, 101)))
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    import rclpy
    from geometry_msgs.msg import PoseStamped
    from rclpy.executors import SingleThreadedExecutor
    from std_msgs.msg import String
    from trajectory_msgs.msg import JointTrajectory

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
    node_proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    rclpy.init()
    node = rclpy.create_node("latency_benchmark")
    arrived = threading.Event()
    computed: list[float] = []
    node.create_subscription(JointTrajectory, messages.COMPLETED_BEHAVIOUR, lambda msg: arrived.set(), 10)
    node.create_subscription(String, messages.INFERENCE_RESULT,
                             lambda msg: computed.append(json.loads(msg.data)["latency_s"]), 10)
    pub = node.create_publisher(PoseStamped, messages.BLOCK_POSE, 10)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    try:
        end = time.monotonic() + 60.0
        while pub.get_subscription_count() == 0 or node.count_publishers(messages.COMPLETED_BEHAVIOUR) == 0:
            if node_proc.poll() is not None or time.monotonic() > end:
                print(f"the inference node did not come up:\n{node_proc.stderr.read()}", file=sys.stderr)
                return 2
            time.sleep(0.05)
        time.sleep(0.5)  # let discovery settle in both directions
        sim = SimConfig()
        rng = np.random.default_rng(args.seed)
        latencies = []
        for k in range(args.warmup + args.n):
            xy = [rng.uniform(*sim.workspace_x), rng.uniform(*sim.workspace_y)]
            arrived.clear()
            start = time.perf_counter()
            pub.publish(messages.block_pose(xy, "table"))
            if not arrived.wait(timeout=5.0):
                print(f"no trajectory for pose {k} within 5 s", file=sys.stderr)
                return 2
            if k >= args.warmup:
                latencies.append(time.perf_counter() - start)
            time.sleep(args.gap)
        ms = 1e3 * np.array(latencies)
        inner = 1e3 * np.array(computed[args.warmup:])
        settings = f"parameters {Path(params).name if params != 'none' else 'of the model'}"
        if args.steps:
            settings += f", inference.steps {args.steps}"
        print(f"/block_pose -> /completed_behaviour over DDS, {len(ms)} poses "
              f"({args.behaviour}, torch threads {args.torch_threads}, {settings}):")
        print(f"  end to end  p50 {np.percentile(ms, 50):6.2f} ms   p90 {np.percentile(ms, 90):6.2f} ms   "
              f"p99 {np.percentile(ms, 99):6.2f} ms   max {ms.max():6.2f} ms")
        if inner.size:
            print(f"  inference   p50 {np.percentile(inner, 50):6.2f} ms   p90 {np.percentile(inner, 90):6.2f} ms   "
                  f"p99 {np.percentile(inner, 99):6.2f} ms   (BehaviourCompleter.complete inside the node)")
        return 0
    finally:
        executor.shutdown(timeout_sec=1.0)
        node.destroy_node()
        rclpy.try_shutdown()
        node_proc.terminate()
        try:
            node_proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            node_proc.kill()


if __name__ == "__main__":
    raise SystemExit(main())
