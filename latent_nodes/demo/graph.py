"""The launch file's graph in one process: the nodes of ``launch/demo.launch.py`` and the demo's driver.

The same nodes with the same ``config/*.yaml`` (so no ``ros2`` CLI or ``launch`` package is needed), plus
the ``markers`` node that ``rviz:=true`` adds, on one executor thread; optionally recorded as an MCAP bag.
The demo's overrides make each trial one pose and one trajectory: perception publishes only when the
driver asks. ``--perception camera`` is the launch file's ``perception:=camera``: the sim node renders its
RGB-D camera at ``--camera-rate`` and the perception node finds the block in the images (docs/camera.md);
``truth`` reads the simulator's pose.
"""

from __future__ import annotations

import argparse
import threading
from contextlib import contextmanager
from pathlib import Path

from latent_nodes.demo.driver import Driver

NODES = ("sim", "perception", "inference", "commander", "markers")
# --perception -> the perception node's perception_source
PERCEPTION_SOURCES = {"truth": "sim", "camera": "camera"}


def perception(args: argparse.Namespace) -> str:
    """``--perception`` (truth when a caller's namespace has none)."""
    return getattr(args, "perception", "truth")


def ros_arguments(args: argparse.Namespace, config_dir: Path) -> list[str]:
    """The command line a launch of the nodes would give them, plus the demo's overrides."""
    out = ["--ros-args", "--log-level", args.log_level]
    for name in NODES:
        out += ["--params-file", str(config_dir / f"{name}.yaml")]
    overrides = {
        "commander:target": "embedded",
        "sim:publish_clock": "false",
        # One pose per trial: the demo asks perception explicitly instead of re-publishing on a timer or
        # when the arm nudges the block.
        "perception:perception_source": PERCEPTION_SOURCES[perception(args)],
        "perception:perception_rate": "0.0",
        "perception:perception_min_change": "0.0",
    }
    if perception(args) == "camera":
        overrides["sim:camera.rate"] = repr(float(args.camera_rate))
        if getattr(args, "camera_width", None):  # else the sim node's parameter file's
            overrides["sim:camera.width"] = str(args.camera_width)
            overrides["sim:camera.height"] = str(args.camera_height)
    if args.behaviours:  # else the node starts with the model's first
        overrides["inference:behaviour"] = args.behaviours[0]
    if args.model:
        overrides["inference:model_path"] = str(Path(args.model).resolve())
    if args.out_of_domain:
        overrides["inference:out_of_domain"] = args.out_of_domain
    for key, value in overrides.items():
        out += ["-p", f"{key}:={value}"]
    return out


class GraphError(RuntimeError):
    """The graph could not start (a bad parameter, a missing model): one line for the user."""


@contextmanager
def running_graph(args: argparse.Namespace, config_dir: Path, remaps: tuple[str, ...] = (), bag: str | None = None,
                  **overrides: str):
    """The launch file's nodes (and markers) and the demo's driver, spun on a thread: yields (inference, driver).

    ``overrides`` are extra node parameters (``{"inference:mode": "online"}`` as ``inference__mode``),
    ``remaps`` topic remappings (``"inference:/completed_behaviour:=/elsewhere"``). ``bag`` names an MCAP
    bag under ``args.out`` that records the run (``TopicRecorder.record_standard``'s topics), unless
    ``--no-bag``: it can be replayed with ``ros2 bag play`` or opened in Foxglove.
    """
    import rclpy
    import rclpy.logging
    from rclpy.exceptions import ParameterException

    from latent_nodes.nodes.commander_node import CommanderNode
    from latent_nodes.nodes.inference_node import InferenceNode
    from latent_nodes.nodes.markers_node import MarkersNode
    from latent_nodes.nodes.parameters import refuse_undeclared
    from latent_nodes.nodes.perception_node import PerceptionNode
    from latent_nodes.nodes.runner import ServingExecutor, StartupError
    from latent_nodes.nodes.sim_node import SimNode

    ros_args = ros_arguments(args, config_dir)
    for key, value in overrides.items():
        ros_args += ["-p", f"{key.replace('__', ':')}:={value}"]
    for remap in remaps:
        ros_args += ["-r", remap]
    # ``--log-level`` sets the process-wide default level; put it back afterwards, so that a demo run inside
    # a longer process (the tests, a second graph) does not silence that process's later nodes.
    default_level = rclpy.logging.get_logger_effective_level("")
    context = rclpy.Context()
    rclpy.init(args=ros_args, context=context)
    nodes, executor, spinner, recorder = [], None, None, None
    try:
        try:
            nodes = [SimNode(context=context), PerceptionNode(context=context)]
            inference = InferenceNode(context=context)
            commander = CommanderNode(context=context)
            nodes += [inference, commander, MarkersNode(context=context)]
            for node in nodes:
                refuse_undeclared(node)
        except (StartupError, ValueError, ParameterException) as exc:
            raise GraphError(str(exc)) from None
        driver = Driver(context)
        driver.joint_names = list(commander.names)
        driver.camera = perception(args) == "camera"
        nodes.append(driver.node)
        if bag is not None and not args.no_bag:
            from latent_nodes.nodes.topic_recorder import TopicRecorder

            recorder = TopicRecorder(driver.node, Path(args.out) / bag, overwrite=True)
            recorder.record_standard()
        executor = ServingExecutor(context=context)  # as the executables: a failing callback is logged, no more
        for node in nodes:
            executor.add_node(node)
        spinner = threading.Thread(target=executor.spin, daemon=True)
        spinner.start()
        yield inference, driver
    finally:
        if executor is not None:
            executor.shutdown(timeout_sec=2.0)
        if spinner is not None:  # let a callback still running finish before its node is destroyed under it
            spinner.join(timeout=5.0)
        if recorder is not None:  # no callback writes any more; the bag is complete when this returns
            print(f"wrote the run's bag {recorder.close()}")
        for node in reversed(nodes):
            close = getattr(node, "close", None)
            if close is not None:
                close()
            node.destroy_node()
        rclpy.try_shutdown(context=context)
        rclpy.logging.set_logger_level("", default_level)
        if spinner is not None:
            spinner.join(timeout=2.0)
