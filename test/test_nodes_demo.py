"""`latent-nodes demo`: the launched graph in one process runs trials and writes its table and picture."""

import json
import os

import numpy as np
import pytest

from latent_nodes.config import default_model_path
from latent_nodes.scripts import demo

# 1-minute load average per CPU up to which the demo's timed figures were measured (load 3-7 on 2 CPUs).
LOAD_MEASURED_PER_CPU = 3.5


def polyline_distance(point: np.ndarray, path: np.ndarray) -> float:
    """Distance from ``point`` to the polyline through ``path``'s points (metres)."""
    a, b = path[:-1], path[1:]
    ab = b - a
    t = np.clip(np.einsum("ij,ij->i", point - a, ab) / np.maximum(np.einsum("ij,ij->i", ab, ab), 1e-18), 0.0, 1.0)
    return float(np.min(np.linalg.norm(a + t[:, None] * ab - point, axis=1)))


def shape_distance(executed: np.ndarray, demonstrated: np.ndarray) -> float:
    """How far the executed path lies from the demonstrated one, whenever the arm got there: the mean, over
    both paths' points, of the distance to the other path. Late arrival along the same path costs nothing;
    a path cut short, or an arm that never left home, does (the demonstration's far points are far from it).
    """
    there = [polyline_distance(p, demonstrated) for p in executed]
    back = [polyline_distance(p, executed) for p in demonstrated]
    return float(np.mean(there + back))


def load_per_cpu() -> float:
    return os.getloadavg()[0] / len(os.sched_getaffinity(0))


def test_demo_session_runs_trials_and_writes_results(tmp_path, capsys):
    """Pinned to the shipped model (models/latent_nodes_default.pt): the demo's claim is that the arm,
    driven by that model through the whole graph, follows the scripted demonstration within a few mm;
    a fixture model is not trained on those demonstrations.

    The embedded simulator steps in wall-clock time, so a loaded machine delays the arm along its path:
    the demo's timed figures (mean distance at the planned times, tracking error) grow with the load,
    the path's shape and where the arm ends do not. The shape and the end are asserted always; the timed
    figures only at the load they were measured at (the 1-minute load average, before and after the run).
    """
    out = tmp_path / "demo"
    load = load_per_cpu()
    status = demo.main(["--model", str(default_model_path()), "--behaviours", "reach", "reach_circle",
                        "--positions", "0.45", "0.05", "--out", str(out), "--log-level", "error", "--outside"])
    load = max(load, load_per_cpu())
    printed = capsys.readouterr().out
    assert status == 0, printed
    trials = json.loads((out / "demo_results.json").read_text())
    assert [t["behaviour"] for t in trials] == ["reach", "reach_circle"]
    for t in trials:
        assert t["ok"] and t["block_xy"] == [0.45, 0.05] and len(t["xi"]) == 2
        assert len(t["executed"]) == len(t["demonstrated"]) == 20
        assert 0 < t["latency_ms"] < 200  # measured 2-35 ms; a glimpse over 0.2 s would be a stall
        # The arm ends where the demonstration ends (both behaviours end back home): measured 0.26-0.48 mm
        # here in eight runs (four at load 5.5-6 per CPU), 0.0-1.0 mm over 64 trials at the 16 unseen
        # positions (two runs of the demo).
        assert t["final_distance"] < 0.002, t["final_distance"]
        # The path's shape: 0.4-1.1 mm (reach) and 1.8-2.0 mm (reach_circle) in four runs at load 5.5-6
        # per CPU, whose timed mean distances were 2.9-17.6 and 9.9-23.5 mm. Against the same
        # demonstrations, an arm that stayed home measures 42 / 56 mm, the executed path moved 5 cm in x
        # 46 / 38 mm, and the other behaviour's demonstration 21 mm.
        shape = shape_distance(np.array(t["executed"]), np.array(t["demonstrated"]))
        print(f"{t['behaviour']}: shape {1e3 * shape:.2f} mm, timed mean {1e3 * t['mean_distance']:.1f} mm, "
              f"tracking {t['tracking_error']:.4f} rad RMS at load {load:.1f} per CPU")  # shown with pytest -s
        assert shape < 0.003, shape
        if load > LOAD_MEASURED_PER_CPU:
            continue  # the timed figures below hold at the load they were measured at, not beyond
        # Mean fingertip distance at the planned times: here 3.7-5.1 mm (reach) and 8.0-8.2 mm
        # (reach_circle) in four runs; 64 trials at load 3-7 (1.5-3.5 per CPU): 3.2-10.1 / 5.6-13.8 mm
        # (docs/nodes.md: at most 11.9 mm). 20 mm is 1.4x the worst of them. Beyond that load the arm lags
        # in wall-clock time: 23 and 36 mm with three other test processes on the same 2 CPUs, up to
        # 23.5 mm at 6 per CPU.
        assert t["mean_distance"] < 0.020, t["mean_distance"]
        # The commander's tracking error: here 0.0073-0.0108 rad RMS; 64 trials 0.0040-0.0157 (0.0263 at
        # 6 per CPU).
        assert t["tracking_error"] < 0.02, t["tracking_error"]
    assert (out / "demo_paths.png").stat().st_size > 10_000
    assert "2 of 2 trials completed" in printed and "reach_circle" in printed
    # The run is recorded as an MCAP bag that rosbags (and so ros2 bag / Foxglove) can read back.
    from rosbags.highlevel import AnyReader

    with AnyReader([out / "glimpse_bag"]) as reader:
        counts = {c.topic: c.msgcount for c in reader.connections}
    assert counts["/joint_states"] > 100 and counts["/block_pose"] >= 2 and counts["/robot_description"] == 1
    assert counts["/completed_behaviour"] >= 2 and counts["/inference/result"] >= 2
    assert counts["/latent_nodes/markers"] >= 2  # the block and each fingertip path, for RViz or Foxglove


def test_demo_shows_the_domain_margin_at_work(tiny_model, tmp_path, capsys):
    # The tiny model was trained on x 0.355-0.595 m: 1 cm beyond is inside the 2 cm margin, 5 cm is not.
    out = tmp_path / "demo"
    status = demo.main(["--model", str(tiny_model), "--behaviours", "reach", "--positions", "0.45", "0.05",
                        "--outside", "0.01", "0.05", "--out", str(out), "--log-level", "error"])
    printed = capsys.readouterr().out
    assert status == 0, printed
    inside, near, far = json.loads((out / "demo_results.json").read_text())
    assert inside["outside_m"] == 0 and inside["ok"]
    assert near["block_xy"] == pytest.approx([0.605, 0.0]) and near["ok"] and not near["refusal"]
    assert len(near["executed"]) == 20
    assert far["block_xy"] == pytest.approx([0.645, 0.0]) and far["ok"] and far["expect_refusal"]
    assert not far["executed"]
    assert far["refusal"] == "refused (counted on /diagnostics)"  # --log-level error: no warning line to quote
    assert "1.0 cm outside: completed, path distance" in printed
    assert "5.0 cm outside: refused (as the policy says)" in printed


def test_demo_refuses_a_missing_model(tmp_path, capsys):
    status = demo.main(["--model", str(tmp_path / "none.pt"), "--out", str(tmp_path)])
    assert status == 1
    assert "does not exist" in capsys.readouterr().err


def test_demo_with_camera_perception_places_the_block_from_images_and_completes(tmp_path, capsys):
    """``--perception camera``: the sim node renders its camera, perception finds the block in the images.

    Two positions 24 cm apart in turn: the second trial's pose must come from an image taken after the
    block was moved (an older image would put it at the first position, 24 cm off, and the trial would
    find no result for its position).
    """
    out = tmp_path / "demo"
    status = demo.main(["--model", str(default_model_path()), "--perception", "camera", "--behaviours", "reach",
                        "--positions", "0.38125", "-0.05", "0.56875", "0.15", "--out", str(out),
                        "--log-level", "error", "--outside", "--no-bag"])
    printed = capsys.readouterr().out
    assert status == 0, printed
    assert "perception camera" in printed
    results = json.loads((out / "glimpse_results.json").read_text())
    for t in results["trials"]:
        assert t["ok"], t["note"]
        # One pose, one plan: no image from before the move was published (its plan would be a second one).
        assert t["trajectories"] == 1, t
        # The camera's pose error with the arm at home: 0.22-0.55 mm here (docs/camera.md: p99 0.87 mm over
        # the workspace at 640 x 480).
        assert t["pose_error_mm"] < 1.5, t["pose_error_mm"]
        # The completion as with the truth (test above: 3.7-5.1 mm for reach unloaded; 20 mm under load).
        assert t["mean_distance"] < 0.020, t["mean_distance"]
        assert t["final_distance"] < 0.002, t["final_distance"]


def test_demo_refuses_a_camera_rate_out_of_range(tmp_path, capsys):
    assert demo.main(["--perception", "camera", "--camera-rate", "0", "--out", str(tmp_path)]) == 2
    assert "--camera-rate takes Hz, above 0 and at most 30" in capsys.readouterr().err
    assert demo.main(["--perception", "sonar", "--out", str(tmp_path)]) == 2
    assert "argument --perception: invalid choice: 'sonar'" in capsys.readouterr().err
