"""The core imports and runs with ROS 2 absent: only latent_nodes.nodes may need rclpy."""

import subprocess
import sys

CORE = ["config", "atomic", "cli", "evaluation", "baselines",
        "model.pvrnn", "model.embedding", "model.regularizer", "model.latent_model", "model.normalization",
        "model.checkpoint", "model.conformality", "model.numpy_generator", "model.training", "model.training_plots",
        "inference.search", "inference.warm_start", "inference.completion", "inference.online",
        "inference.recognition", "inference.sequential_recognition", "inference.domain", "inference.step_clock",
        "data.dataset", "data.bags", "data.recording", "data.teaching",
        "robot.joint_trajectory", "robot.safety", "robot.splice", "robot.fingertip_path", "robot.robot_description",
        "robot.controller_outcome", "robot.execution", "robot.joint_limits_file", "robot.admission",
        "robot.stream_limiter", "robot.tolerances",
        "sim.arm", "sim.kinematics", "sim.simulator", "sim.demonstrations", "sim.render", "sim.urdf", "sim.camera",
        "sim.executed_arm", "study.stats", "study.content_hash",
        "perception.camera_geometry", "perception.extrinsics", "perception.block_detector",
        "scripts.train", "scripts.table1", "scripts.dataset", "scripts.render", "scripts.bag2dataset",
        "scripts.domain", "scripts.urdf"]

PROBE = """
import importlib, sys
class Block:  # make every ROS 2 Python package unimportable
    def find_spec(self, name, path=None, target=None):
        root = name.split(".")[0]
        if root in ("rclpy", "rcl_interfaces", "sensor_msgs", "trajectory_msgs", "geometry_msgs", "std_msgs",
                    "std_srvs", "builtin_interfaces", "rosgraph_msgs", "diagnostic_msgs", "visualization_msgs",
                    "action_msgs", "control_msgs", "launch", "launch_ros"):
            raise ImportError(f"{name} blocked")
sys.meta_path.insert(0, Block())
for m in sys.argv[1:]:
    importlib.import_module("latent_nodes." + m)
from latent_nodes.inference.completion import BehaviourCompleter
out = BehaviourCompleter.from_checkpoint().complete([0.47, 0.05], "reach_circle")
assert out.joints.shape == (20, 9)
assert not any(k.split(".")[0] == "rclpy" for k in sys.modules)
print("ok")
"""


def test_core_imports_and_completes_without_ros():
    result = subprocess.run([sys.executable, "-c", PROBE, *CORE], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("ok")
