"""The camera source under a real ``ros2 launch``: a placed block is seen in the images, and completed.

``ros2 launch latent_nodes demo.launch.py perception:=camera`` runs as test_launch_graph.py runs the
default graph (its ``LaunchedGraph``, the package built by colcon, this session's random domain on the
loopback): the sim node renders its RGB-D camera (640 x 480, software rendering) at ``camera_rate``, the
perception node finds the block in the colour images and the inference node completes the behaviour for
the pose it publishes. Nothing but the images tells the graph where the block is.

The probe places the block on ``/sim/set_block`` and follows the chain: a ``/block_pose`` carrying the
stamp of an image the sim node published, within the detector's measured error of the simulator's true
block, then the inference result for exactly that pose and the trajectory computed here for it on
``/completed_behaviour``. One launched graph, one test; where the launch tooling or offscreen rendering is
missing it is skipped. Measured on the shared 2-core development machine: the graph up in 9-19 s, the
block seen and completed 0.3-1.1 s after placing it, the module 19-24 s in all with its colcon build
(62 s once with the machine's load average at 12).
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import pytest
from geometry_msgs.msg import PoseStamped
from ros_harness import Graph
from sensor_msgs.msg import Image

# The launched-graph machinery with its skips (no launch tooling, no colcon) and its fixtures: the package
# built by colcon, the completer that computes the expected trajectory.
from test_launch_graph import (
    BEHAVIOUR,
    START_TIMEOUT,
    LaunchedGraph,
    completer,  # noqa: F401 - a fixture
    install,  # noqa: F401 - a fixture
    served,
    trajectory_arrived,
)

from latent_nodes.nodes import messages

CAMERA_RATE = 2.0  # Hz: the launch file's default camera_rate with perception:=camera
PLACED = (0.52, -0.08)  # table frame, inside the trained workspace, away from the simulator's first block
# docs/camera.md: the detector's largest error inside the workspace at 640 x 480 with the arm at home is
# 0.87 mm (camera_perception.json); a block the arm hides in part is refused, not placed worse.
BOUND_M = 0.001
SEEN_TIMEOUT = 60.0  # s from placing the block: a rendered frame or two, detection, and a loaded machine


def stamp_key(stamp) -> tuple[int, int]:
    return stamp.sec, stamp.nanosec


@pytest.fixture(scope="module")
def camera_graph(install, tmp_path_factory):  # noqa: F811 - the imported fixture
    """The probe and the graph launched with perception:=camera, ready: inference has warmed up."""
    from latent_nodes.config import CameraConfig
    from latent_nodes.sim.simulator import ArmSimulator, RenderUnavailable

    try:  # the launched sim node renders as this process would (same environment)
        ArmSimulator(camera_cfg=CameraConfig(width=32, height=24)).camera_images()
    except RenderUnavailable as exc:
        pytest.skip(f"offscreen rendering unavailable, the launched sim node could not draw images: {exc}")
    site = next((install / "lib").glob("python3*/site-packages"))
    env = dict(os.environ, PYTHONUNBUFFERED="1", RCUTILS_COLORIZED_OUTPUT="0",
               AMENT_PREFIX_PATH=os.pathsep.join([str(install), sys.prefix]),
               PYTHONPATH=os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))
    with Graph() as g:
        g.set_block = g.publisher(PoseStamped, messages.SIM_SET_BLOCK)
        # Only the images' stamps are kept; the truth of where the block is comes from /sim/block_pose.
        # Reliable (the sim node publishes so), unlike the perception node's best effort: a dropped
        # fragment of a 900 kB image must not lose a stamp here.
        g.probe.create_subscription(Image, messages.CAMERA_COLOR_IMAGE,
                                    lambda m: g.probe.record(messages.CAMERA_COLOR_IMAGE, stamp_key(m.header.stamp)),
                                    10)
        g.probe.create_subscription(PoseStamped, messages.SIM_BLOCK_POSE,
                                    lambda m: g.probe.record(messages.SIM_BLOCK_POSE, m), 10)
        g.start()
        started = time.monotonic()
        launched = LaunchedGraph(env, tmp_path_factory.mktemp("launch_camera") / "ros2_launch.log",
                                 ("perception:=camera", f"camera_rate:={CAMERA_RATE}"))
        g.launched = launched
        try:
            ready = g.wait(lambda: launched.proc.poll() is not None or any(
                "completing" in m for m in g.probe.logs("inference")), timeout=START_TIMEOUT)
            assert ready and launched.proc.poll() is None, f"the graph did not come up:\n{launched.output()}"
            g.wait_for_subscribers(g.set_block, timeout=30.0)
            print(f"camera graph up in {time.monotonic() - started:.1f} s")  # shown with pytest -s
            yield g
        finally:
            launched.stop()


def truth(g) -> np.ndarray | None:
    """The simulator's newest true block position, or None before the first."""
    last = g.probe.last(messages.SIM_BLOCK_POSE)
    return None if last is None else messages.block_xy(last)


def test_a_placed_block_is_seen_in_the_images_and_its_behaviour_completed(camera_graph, completer):  # noqa: F811
    g = camera_graph
    placed_at = time.monotonic()
    for _ in range(30):  # /sim/set_block is a plain topic: repeat until the simulator shows the block there
        g.set_block.publish(messages.block_pose(PLACED, "table"))
        if g.wait(lambda: truth(g) is not None and np.linalg.norm(truth(g) - PLACED) < 2e-3, timeout=1.0):
            break
    true_xy = truth(g)
    assert true_xy is not None and np.linalg.norm(true_xy - PLACED) < 2e-3, f"the block was not placed: {true_xy}"

    def seen() -> list[PoseStamped]:
        """Camera poses of the placed block (the block seen before it was moved lies far off)."""
        with g.probe.lock:
            poses = list(g.probe.got[messages.BLOCK_POSE])
        return [p for p in poses if np.linalg.norm(messages.block_xy(p) - true_xy) < 0.01]

    def completed() -> PoseStamped | None:
        """The first pose of the placed block whose result and trajectory have both arrived."""
        for pose in seen():
            xy = messages.block_xy(pose)
            if served(g, xy) and trajectory_arrived(g, completer.complete(xy, BEHAVIOUR).joints):
                return pose
        return None

    assert g.wait(lambda: completed() is not None, timeout=SEEN_TIMEOUT), (
        f"no trajectory for a camera pose of the block at {true_xy}; poses {[messages.block_xy(p) for p in seen()]}, "
        f"perception said {g.probe.logs('perception')[-5:]}\n{g.launched.output()[-3000:]}")
    pose = completed()
    print(f"block seen and its behaviour completed {time.monotonic() - placed_at:.1f} s after placing it")
    assert np.linalg.norm(messages.block_xy(pose) - true_xy) <= BOUND_M
    assert pose.header.frame_id == "table"

    def image_stamps() -> set[tuple[int, int]]:
        with g.probe.lock:
            return set(g.probe.got[messages.CAMERA_COLOR_IMAGE])

    # The perception node may publish before the probe has the same image: wait for it.
    assert g.wait(lambda: stamp_key(pose.header.stamp) in image_stamps(), timeout=5.0), \
        f"the pose's stamp {stamp_key(pose.header.stamp)} is no image's: {sorted(image_stamps())[-5:]}"
