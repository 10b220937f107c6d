"""Benchmark: the block detector on the embedded camera's rendered frames, against the simulator's truth.

Three parts, each printed and written to one JSON (``docs/camera_perception.json`` by default, atomically):

- ``accuracy``: the arm at home, the block on a grid over the workspace and 3 cm beyond it on every side,
  at each ``--resolutions``; pose error (mm, on the table plane) p50 / p99 / max, inside the workspace
  and beyond it, for the plane method (the ray through the blob's centroid meets the block-top plane,
  corrected for the silhouette) and the depth method (the mean of the top face's depth pixels); the
  visible fractions of the fully visible block (what ``min_visible`` must stay below);
- ``cost``: ms per frame for rendering colour, rendering depth and detecting, separately (medians; each
  detection timed five times on its frame, the fastest kept, so other processes' load counts less);
- ``robustness``: over a 5 x 5 grid in the workspace at 640 x 480, how many poses are detected (within
  3 mm), refused, or wrong (further off) with the light halved and doubled, a second red object in view,
  a block of 3 or 5 cm where the detector expects 4, and extrinsics off by 1 cm or 1 degree;
- ``sim_node`` (with ``--sim-node``): the sim node with its camera at 0, 2 and 5 Hz: frames published,
  /joint_states' period and the process's CPU share (needs the ROS 2 Python packages);
- ``occlusion``: the scripted demonstrations of both behaviours at the training positions, the camera
  rendered at every recorded step at the default resolution: the visible fraction and the pose error of
  each frame (detector run without a visible-fraction floor), and, for candidate floors, how many frames
  each refuses and the worst error among those it accepts. The default ``perception_min_visible`` is read
  off this table (docs/camera.md); at that floor, how many steps of a demonstration the block is lost
  for, and the longest run of consecutive lost steps.

    MUJOCO_GL=osmesa python benchmarks/camera_perception.py --sim-node
    MUJOCO_GL=osmesa python benchmarks/camera_perception.py --resolutions 320x240 --grid 5 --no-occlusion

Not a test: it prints figures (quoted in docs/camera.md) and exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "osmesa")

import numpy as np  # noqa: E402 - after MUJOCO_GL is chosen

from latent_nodes.atomic import write_text_atomic  # noqa: E402
from latent_nodes.config import BEHAVIOURS, CameraConfig, DataConfig, NodesConfig, SimConfig  # noqa: E402
from latent_nodes.perception.block_detector import DetectorSettings, Refusal, detect_block  # noqa: E402
from latent_nodes.sim.camera import CAMERA_NAME, CameraRenderer, camera_model  # noqa: E402
from latent_nodes.sim.demonstrations import generate_demonstration, train_test_positions  # noqa: E402
from latent_nodes.sim.simulator import ArmSimulator  # noqa: E402

BEYOND = 0.03  # metres past the workspace's edges


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--resolutions", nargs="+", default=["320x240", "640x480"], help="WIDTHxHEIGHT each")
    p.add_argument("--grid", type=int, default=7, help="block positions per axis over workspace + 3 cm")
    p.add_argument("--no-occlusion", action="store_true", help="skip the demonstrations part (the slow one)")
    p.add_argument("--no-robustness", action="store_true", help="skip the light / distractor / size / "
                   "extrinsics rows")
    p.add_argument("--sim-node", action="store_true", help="also time the sim node with its camera at 0, 2, 5 Hz")
    p.add_argument("--sim-node-resolution", default="640x480", help="the camera's resolution for --sim-node")
    p.add_argument("--out", default="docs/camera_perception.json", help="JSON written here ('' for none)")
    return p.parse_args(argv)


def stats_mm(errors: list[float]) -> dict:
    e = np.asarray(errors, dtype=np.float64) * 1e3
    if e.size == 0:
        return {"n": 0}
    return {"n": int(e.size), "p50_mm": round(float(np.percentile(e, 50)), 3),
            "p99_mm": round(float(np.percentile(e, 99)), 3), "max_mm": round(float(e.max()), 3)}


def accuracy(resolution: str, grid: int, sim_cfg: SimConfig) -> dict:
    """Arm at home, block over the workspace and BEYOND past it: errors by method, costs, visible fractions."""
    width, height = (int(v) for v in resolution.split("x"))
    cam_cfg = CameraConfig(width=width, height=height)
    camera = camera_model(cam_cfg)
    settings = DetectorSettings(block_size=sim_cfg.block_size, min_visible=0.05)
    (x0, x1), (y0, y1) = sim_cfg.workspace_x, sim_cfg.workspace_y
    errors = {"plane": {"inside": [], "beyond": []}, "depth": {"inside": [], "beyond": []}}
    fractions, refused = [], []
    render_ms, depth_ms, detect_ms = [], [], []
    with ArmSimulator(sim_cfg, cam_cfg) as sim:
        sim.camera_images(depth=True)  # the first frame builds the GL context: not counted
        for x in np.linspace(x0 - BEYOND, x1 + BEYOND, grid):
            for y in np.linspace(y0 - BEYOND, y1 + BEYOND, grid):
                sim.set_block(x, y)
                t0 = time.perf_counter()
                rgb, _ = sim.camera_images(depth=False)
                t1 = time.perf_counter()
                _, depth = sim.camera_images(depth=True)
                t2 = time.perf_counter()
                render_ms.append((t1 - t0) * 1e3)
                depth_ms.append((t2 - t1 - (t1 - t0)) * 1e3)  # a depth frame renders colour too
                where = "inside" if x0 <= x <= x1 and y0 <= y <= y1 else "beyond"
                try:
                    runs = []
                    for _ in range(5):
                        t3 = time.perf_counter()
                        plane = detect_block(rgb, camera, settings)
                        runs.append((time.perf_counter() - t3) * 1e3)
                    detect_ms.append(min(runs))
                    with_depth = detect_block(rgb, camera, settings, depth=depth)
                except Refusal as exc:
                    refused.append({"x": round(float(x), 4), "y": round(float(y), 4), "reason": exc.reason})
                    continue
                truth = sim.block_xy
                errors["plane"][where].append(float(np.linalg.norm(plane.xyz[:2] - truth)))
                if with_depth.method == "depth":
                    errors["depth"][where].append(float(np.linalg.norm(with_depth.xyz[:2] - truth)))
                fractions.append(plane.visible_fraction)
    return {
        "resolution": resolution,
        "positions": grid * grid,
        "plane": {k: stats_mm(v) for k, v in errors["plane"].items()},
        "depth": {k: stats_mm(v) for k, v in errors["depth"].items()},
        "refused": refused,
        "visible_fraction_fully_visible": {"min": round(min(fractions), 3), "max": round(max(fractions), 3)},
        "render_color_ms": round(float(np.median(render_ms)), 1),
        "render_depth_extra_ms": round(float(np.median(depth_ms)), 1),
        "detect_ms": round(float(np.median(detect_ms)), 2),
    }


def occlusion(sim_cfg: SimConfig, floors: list[float]) -> dict:
    """Visible fraction and error at every recorded step of both behaviours at the training positions."""
    cam_cfg = replace(CameraConfig(), depth=False)
    camera = camera_model(cam_cfg)
    settings = DetectorSettings(block_size=sim_cfg.block_size, min_visible=1e-6)
    train, _ = train_test_positions(DataConfig(), sim_cfg)
    frames: list[tuple[float, float]] = []  # (visible fraction, error m); fraction 0 for a block not seen
    reasons: dict[str, int] = {}

    def on_step(k: int, sim: ArmSimulator) -> None:
        rgb, _ = sim.camera_images(depth=False)
        try:
            d = detect_block(rgb, camera, settings)
        except Refusal as exc:
            reasons[exc.reason] = reasons.get(exc.reason, 0) + 1
            frames.append((0.0, float("nan")))
            return
        frames.append((d.visible_fraction, float(np.linalg.norm(d.xyz[:2] - sim.block_xy))))

    starts = []  # index of each demonstration's first frame
    with ArmSimulator(sim_cfg, cam_cfg) as sim:
        for behaviour in BEHAVIOURS:
            for xy in train:
                starts.append(len(frames))
                generate_demonstration(behaviour, xy, None, sim_cfg, simulator=sim, on_step=on_step)
    fraction = np.array([f for f, _ in frames])
    # How long the block stays lost at the default floor: per demonstration, the refused steps and the
    # longest run of consecutive ones.
    floor = NodesConfig().perception_min_visible
    lost, runs = [], []
    for a, b in zip(starts, [*starts[1:], len(frames)]):
        hidden = fraction[a:b] < floor
        lost.append(int(hidden.sum()))
        run = longest = 0
        for h in hidden:
            run = run + 1 if h else 0
            longest = max(longest, run)
        runs.append(longest)
    error = np.array([e for _, e in frames])
    rows = []
    for floor in floors:
        kept = fraction >= floor
        rows.append({"min_visible": floor, "accepted": int(kept.sum()), "refused": int((~kept).sum()),
                     **stats_mm(error[kept].tolist())})
    bins = []
    for lo, hi in ((0.0, 0.2), (0.2, 0.4), (0.4, 0.6), (0.6, 0.8), (0.8, 0.9), (0.9, 1.1)):
        sel = (fraction > lo) & (fraction <= hi)
        bins.append({"visible": f"({lo}, {hi}]", **stats_mm(error[sel].tolist())})
    return {"frames": len(frames), "positions": len(train), "behaviours": list(BEHAVIOURS),
            "not_seen_or_refused": reasons, "by_visible_fraction": bins, "by_floor": rows,
            "lost_at_default_floor": {"min_visible": floor, "steps_per_demonstration": len(frames) // len(starts),
                                      "demonstrations": len(starts),
                                      "with_a_lost_step": int(sum(n > 0 for n in lost)),
                                      "lost_steps_mean": round(float(np.mean(lost)), 2),
                                      "lost_steps_max": int(max(lost)),
                                      "longest_run_p50": float(np.median(runs)), "longest_run_max": int(max(runs))}}


def robustness(grid: int) -> list[dict]:
    """Rows of detected (error <= 3 mm) / refused / wrong over the workspace, arm at home, 640 x 480:
    the light halved and doubled, a second red object in view, a block of another size than the
    detector expects, and extrinsics off by 1 cm or 1 degree.
    """
    import mujoco

    from latent_nodes.perception.block_detector import CameraModel
    from latent_nodes.perception.camera_geometry import CameraPose, rpy_to_rotation

    cam_cfg = replace(CameraConfig(), depth=False)
    nominal = camera_model(cam_cfg)
    tilted = CameraPose(rotation=rpy_to_rotation(0.0, np.radians(1.0), 0.0) @ nominal.pose.rotation,
                        position=nominal.pose.position)
    shifted = CameraPose(rotation=nominal.pose.rotation, position=nominal.pose.position + [0.01, 0.0, 0.0])
    conditions = [  # (name, block edge in the world, light scale, distractor, detector's camera pose)
        ("nominal", 0.04, 1.0, False, nominal.pose), ("light x0.5", 0.04, 0.5, False, nominal.pose),
        ("light x2", 0.04, 2.0, False, nominal.pose), ("second red object", 0.04, 1.0, True, nominal.pose),
        ("block 3 cm (detector expects 4)", 0.03, 1.0, False, nominal.pose),
        ("block 5 cm (detector expects 4)", 0.05, 1.0, False, nominal.pose),
        ("extrinsics 1 cm off (x)", 0.04, 1.0, False, shifted),
        ("extrinsics 1 degree off (pitch)", 0.04, 1.0, False, tilted)]
    rows = []
    for name, edge, light, distractor, pose in conditions:
        sim_cfg = SimConfig(block_size=edge)
        camera = CameraModel(k=nominal.k, width=nominal.width, height=nominal.height, pose=pose)
        counts = {"detected": 0, "refused": 0, "wrong": 0}
        reasons: dict[str, int] = {}
        errors = []
        (x0, x1), (y0, y1) = sim_cfg.workspace_x, sim_cfg.workspace_y
        with ArmSimulator(sim_cfg, cam_cfg) as sim:
            sim.model.light_diffuse[:] *= light
            sim.model.vis.headlight.ambient[:] *= light
            sim.model.vis.headlight.diffuse[:] *= light
            renderer = CameraRenderer(sim.model, cam_cfg)
            for x in np.linspace(x0, x1, grid):
                for y in np.linspace(y0, y1, grid):
                    sim.set_block(x, y)
                    mujoco.mj_forward(sim.model, sim.data)
                    r = renderer.renderer
                    r.update_scene(sim.data, camera=CAMERA_NAME)
                    if distractor:  # a red 3 cm cube on the table, off the workspace's corner
                        scene = r.scene
                        mujoco.mjv_initGeom(scene.geoms[scene.ngeom], mujoco.mjtGeom.mjGEOM_BOX,
                                            np.array([0.015, 0.015, 0.015]), np.array([0.68, -0.32, 0.015]),
                                            np.eye(3).ravel(), np.array([0.85, 0.08, 0.06, 1.0], dtype=np.float32))
                        scene.ngeom += 1
                    rgb = r.render().copy()
                    try:
                        d = detect_block(rgb, camera)  # the detector's default settings: a 4 cm block
                    except Refusal as exc:
                        counts["refused"] += 1
                        reasons[exc.reason] = reasons.get(exc.reason, 0) + 1
                        continue
                    error = float(np.linalg.norm(d.xyz[:2] - sim.block_xy))
                    errors.append(error)
                    counts["detected" if error <= 3e-3 else "wrong"] += 1
            renderer.close()
        rows.append({"condition": name, **counts, "refusals": reasons, "error": stats_mm(errors)})
    return rows


def sim_node_timing(rates: list[float], resolution: str, seconds: float) -> list[dict]:
    """The sim node with its camera at each rate: /joint_states' period (100 Hz asked), frames published,
    and the process's CPU share (all its threads: physics, rendering, DDS), over ``seconds`` each.
    """
    import threading

    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from rclpy.parameter import Parameter
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image, JointState

    from latent_nodes.nodes import messages
    from latent_nodes.nodes.sim_node import SimNode

    width, height = (int(v) for v in resolution.split("x"))
    rows = []
    for rate in rates:
        context = rclpy.Context()
        rclpy.init(context=context)
        sim = SimNode(context=context, parameter_overrides=[
            Parameter("camera.rate", value=float(rate)), Parameter("camera.width", value=width),
            Parameter("camera.height", value=height)])
        listener = Node("camera_benchmark", context=context)
        arrivals: list[float] = []
        frames: list[float] = []
        listener.create_subscription(JointState, messages.JOINT_STATES,
                                     lambda _, a=arrivals: a.append(time.monotonic()), 100)
        listener.create_subscription(Image, messages.CAMERA_COLOR_IMAGE, lambda _, f=frames: f.append(time.monotonic()),
                                     qos_profile_sensor_data)
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(sim)
        executor.add_node(listener)
        spinner = threading.Thread(target=executor.spin, daemon=True)
        spinner.start()
        time.sleep(2.0)  # start-up and the first frames (GL context) are not measured
        arrivals.clear()
        frames.clear()
        cpu0, wall0 = time.process_time(), time.monotonic()
        time.sleep(seconds)
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
        gaps = np.diff(np.array(arrivals)) * 1e3
        executor.shutdown(timeout_sec=2.0)
        spinner.join(timeout=5.0)
        sim.close()
        sim.destroy_node()
        listener.destroy_node()
        rclpy.try_shutdown(context=context)
        rows.append({"camera_rate_hz": rate, "resolution": resolution, "frames_per_s": round(len(frames) / wall, 2),
                     "joint_states_per_s": round(len(arrivals) / wall, 1),
                     "joint_states_gap_ms": {"p50": round(float(np.percentile(gaps, 50)), 1),
                                             "p99": round(float(np.percentile(gaps, 99)), 1),
                                             "max": round(float(gaps.max()), 1)},
                     "cpu_share_of_one_core": round(cpu / wall, 2)})
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sim_cfg = SimConfig()
    started = time.perf_counter()
    command = "python benchmarks/camera_perception.py" + (" --sim-node" if args.sim_node else "")
    report: dict = {"command": command, "machine": platform.processor() or platform.machine(),
                    "cpus": os.cpu_count(), "mujoco_gl": os.environ.get("MUJOCO_GL"),
                    "camera": {k: v for k, v in vars(CameraConfig()).items() if k not in ("width", "height")},
                    "workspace": {"x": sim_cfg.workspace_x, "y": sim_cfg.workspace_y, "beyond_m": BEYOND},
                    "accuracy": []}
    for resolution in args.resolutions:
        row = accuracy(resolution, args.grid, sim_cfg)
        report["accuracy"].append(row)
        print(f"{resolution}: plane inside {row['plane']['inside']}, beyond {row['plane']['beyond']}")
        print(f"    depth inside {row['depth']['inside']}, beyond {row['depth']['beyond']}")
        print(f"    visible fraction (fully visible) {row['visible_fraction_fully_visible']}, refused "
              f"{len(row['refused'])}; render colour {row['render_color_ms']} ms, depth +"
              f"{row['render_depth_extra_ms']} ms, detect {row['detect_ms']} ms")
    if not args.no_occlusion:
        report["occlusion"] = occlusion(sim_cfg, [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])
        occ = report["occlusion"]
        print(f"occlusion over {occ['frames']} frames (both behaviours, {occ['positions']} training positions): "
              f"not seen / refused {occ['not_seen_or_refused']}")
        for row in occ["by_visible_fraction"]:
            print(f"    visible {row['visible']}: {row}")
        for row in occ["by_floor"]:
            print(f"    min_visible {row['min_visible']}: {row}")
        print(f"    block lost (refused) at the default floor: {occ['lost_at_default_floor']}")
    if not args.no_robustness:
        report["robustness"] = robustness(5)
        for row in report["robustness"]:
            print(f"robustness, {row['condition']}: {row}")
    if args.sim_node:
        report["sim_node"] = sim_node_timing([0.0, 2.0, 5.0], args.sim_node_resolution, 10.0)
        for row in report["sim_node"]:
            print(f"sim node, camera {row['resolution']} at {row['camera_rate_hz']:g} Hz: {row}")
    report["seconds"] = round(time.perf_counter() - started, 1)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(args.out, json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
