"""`latent-nodes demo --scenario moved`: the block moves during the approach; restart against online inference.

Each trial starts a behaviour at an unseen test position A and, at a seeded random step of the approach,
moves the block (``/sim/set_block``, then ``/perception/perceive``) to a second unseen position B. The same
trials run twice, each time through the whole graph over DDS:

- ``restart`` (today's graph, ``mode: glimpse``): inference completes a fresh behaviour for B and the
  commander replaces the running one from its first step;
- ``online`` (``mode: online``): inference notices the move at its next step, re-infers, and publishes
  the update stamped with the behaviour's start, which the commander splices in at the current phase.

Measured on the executed fingertip path after the move (forward kinematics of ``/joint_states``):
closest approach to the demonstration's reach point at B (its point nearest the block), time from the
move to it, path length from the move to the end, and the mean distance to the demonstration at B over
the behaviour's remaining steps, on the behaviour's own clock (step k due (k + 1) dt after the first
trajectory arrived): as if the block had been at B from the start. Writes ``moved_results.json`` (per
trial and a ``summary``) and ``moved_paths.png`` (top view of the first trials).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from latent_nodes.atomic import save_png, write_text_atomic
from latent_nodes.demo.driver import Driver
from latent_nodes.demo.graph import running_graph
from latent_nodes.demo.reference import demonstrator, model_behaviours

MODES = {"restart": "glimpse", "online": "online"}  # what is compared -> the inference node's mode
MIN_MOVE = 0.08  # metres between A and B: a move the old plan cannot absorb
METRICS = ("closest_mm", "time_to_closest_s", "path_after_move_m", "remaining_distance_mm")


@dataclass
class Run:
    """One trial in one mode (distances in metres unless named otherwise)."""

    ok: bool = False
    note: str = ""
    closest_mm: float = math.nan  # closest approach to the demonstration's reach point at B
    time_to_closest_s: float = math.nan  # from the move to that closest approach
    path_after_move_m: float = math.nan  # fingertip path length from the move to the end
    straight_m: float = math.nan  # straight distance from the fingertip at the move to the reach point
    remaining_distance_mm: float = math.nan  # mean distance to the demonstration at B, remaining steps
    trajectories: int = 0  # trajectories the commander received during the trial
    path: list[list[float]] = field(default_factory=list, repr=False)  # fingertip x, y, z from the start
    move_index: int = 0  # index into ``path`` of the first sample after the move


@dataclass
class MovedTrial:
    behaviour: str
    block_a: list[float]
    block_b: list[float]
    move_step: int  # the behaviour's step at which the block moves
    runs: dict[str, Run] = field(default_factory=dict)


def approach_steps(behaviour: str, steps: int) -> int:
    """The number of steps the demonstration's approach phase spans."""
    from latent_nodes.sim.demonstrations import PHASES

    return int(PHASES[behaviour]["approach"][1] * steps)


def make_trials(behaviours: list[str], positions: np.ndarray, steps: int, seed: int) -> list[MovedTrial]:
    """For every behaviour and position A: a second position B at least MIN_MOVE away and a move step
    within the approach (after the first two steps, before its end), drawn with ``seed``.
    """
    rng = np.random.default_rng(seed)
    trials = []
    for behaviour in behaviours:
        last = max(2, approach_steps(behaviour, steps) - 1)
        for a in positions:
            far = [b for b in positions if np.linalg.norm(b - a) >= MIN_MOVE]
            b = far[int(rng.integers(len(far)))] if far else positions[int(rng.integers(len(positions)))]
            trials.append(MovedTrial(behaviour, a.tolist(), np.asarray(b).tolist(), int(rng.integers(2, last + 1))))
    return trials


def run_trial(driver: Driver, trial: MovedTrial, demo_b: np.ndarray, fk, dt: float, timeout: float) -> Run:
    """One trial through the graph as it is configured; the fingertip path and the figures after the move."""
    from std_srvs.srv import Trigger

    run = Run()
    a, b = np.asarray(trial.block_a), np.asarray(trial.block_b)
    try:
        driver.call(driver.reset_client, Trigger.Request())
        driver.clear()
        if not driver.place(a, timeout=2.0):
            raise RuntimeError("the simulator did not report the block at A")
        if not driver.perceive(timeout=5.0):
            raise RuntimeError("perception did not see the block at A")
        if not driver.wait(lambda: bool(driver.trajectory_times), 5.0):
            raise RuntimeError("no completed behaviour for A")
        with driver.lock:  # the behaviour's clock: its start if stamped (online), else the first arrival
            t0 = driver.behaviour_start if driver.behaviour_start is not None else driver.trajectory_times[0]
        time.sleep(max(0.0, t0 + (trial.move_step + 1) * dt - time.monotonic()))
        moved_at = time.monotonic()
        driver.block_pub.publish(driver.messages.block_pose(b, "table"))
        if not driver.wait(lambda: driver.block is not None and np.linalg.norm(driver.block - b) < 1e-3, 2.0):
            raise RuntimeError("the simulator did not report the block at B")
        with driver.lock:
            driver.tracking_error = None  # only the execution that ends after the move counts
        # Camera: the first image after the move may show the arm over B; perception sees B once it is
        # uncovered, and that wait is part of the time to the closest approach (taken from the move).
        if not driver.perceive(timeout=timeout):
            raise RuntimeError("perception did not see the block at B")
        if driver.camera:
            with driver.lock:  # the behaviour for A may have ended while B was hidden: that is not the one
                driver.tracking_error = None
        if not driver.wait(lambda: driver.tracking_error is not None, timeout):
            raise RuntimeError("the commander did not finish executing")
        with driver.lock:
            samples, run.trajectories = list(driver.samples), len(driver.trajectory_times)
    except RuntimeError as exc:
        run.note = str(exc)
        return run
    times = np.array([t for t, _ in samples])
    tips = np.array([fk(q) for _, q in samples])
    keep = times >= t0 - dt
    times, tips = times[keep], tips[keep]
    after = times >= moved_at
    demo_tips = np.array([fk(q) for q in demo_b])
    reach_point = demo_tips[int(np.argmin(np.linalg.norm(demo_tips[:, :2] - b, axis=1)))]
    distance = np.linalg.norm(tips[after] - reach_point, axis=1)
    closest = int(np.argmin(distance))
    run.closest_mm = 1e3 * float(distance[closest])
    run.time_to_closest_s = float(times[after][closest] - moved_at)
    run.path_after_move_m = float(np.sum(np.linalg.norm(np.diff(tips[after], axis=0), axis=1)))
    run.straight_m = float(np.linalg.norm(tips[after][0] - reach_point))
    remaining = range(trial.move_step + 1, len(demo_b))
    picks = [int(np.argmin(np.abs(times - (t0 + (k + 1) * dt)))) for k in remaining]
    run.remaining_distance_mm = 1e3 * float(np.mean(np.linalg.norm(tips[picks] - demo_tips[list(remaining)],
                                                                    axis=1)))
    run.path = tips.tolist()
    run.move_index = int(np.argmax(after))
    run.ok = True
    return run


def summarize(trials: list[MovedTrial]) -> dict:
    """Per mode: mean, median and max of each figure over the trials that completed in both modes."""
    both = [t for t in trials if all(t.runs.get(m, Run()).ok for m in MODES)]
    summary: dict = {"trials": len(trials), "completed_in_both": len(both)}
    for mode in MODES:
        figures = {}
        for key in (*METRICS, "path_ratio"):
            if key == "path_ratio":  # path after the move over the straight distance to the reach point
                values = np.array([t.runs[mode].path_after_move_m / t.runs[mode].straight_m for t in both])
            else:
                values = np.array([getattr(t.runs[mode], key) for t in both])
            figures[key] = ({"mean": float(values.mean()), "median": float(np.median(values)),
                             "max": float(values.max())} if len(values) else None)
        summary[mode] = figures
    return summary


def print_summary(summary: dict) -> None:
    print(f"\n{summary['completed_in_both']} of {summary['trials']} trials completed in both modes")
    labels = {"closest_mm": "closest approach to the reach point at B, mm",
              "time_to_closest_s": "time from the move to it, s",
              "path_after_move_m": "fingertip path after the move, m",
              "path_ratio": "  ... over the straight distance",
              "remaining_distance_mm": "mean distance to the demonstration at B, remaining steps, mm"}
    print(f"  {'median (max)':<62} {'restart':>16} {'online':>16}")
    for key, label in labels.items():
        cells = []
        for mode in MODES:
            f = summary[mode][key]
            cells.append("-" if f is None else f"{f['median']:.3g} ({f['max']:.3g})")
        print(f"  {label:<62} {cells[0]:>16} {cells[1]:>16}")


def plot(trials: list[MovedTrial], demo_tips: dict[int, np.ndarray], path: Path, count: int = 4) -> None:
    """Top view of the first trials of each behaviour: restart and online paths, the demonstration at B."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = []
    for behaviour in sorted({t.behaviour for t in trials}):
        shown += [i for i, t in enumerate(trials)
                  if t.behaviour == behaviour and all(r.ok for r in t.runs.values())][: count // 2]
    if not shown:
        return
    fig, axes = plt.subplots(1, len(shown), figsize=(4.2 * len(shown), 4.6), squeeze=False)
    for ax, i in zip(axes[0], shown):
        t, demo = trials[i], demo_tips[i]
        ax.plot(demo[:, 0], demo[:, 1], "--", color="0.5", lw=1.0)
        for mode, colour in (("restart", "tab:orange"), ("online", "tab:blue")):
            run = t.runs[mode]
            p = np.array(run.path)
            ax.plot(p[:, 0], p[:, 1], "-", color=colour, lw=1.5)
            ax.plot(*p[run.move_index, :2], "x", color=colour, ms=8)
        ax.plot(*t.block_a, "s", mfc="none", color="tab:red", ms=7)
        ax.plot(*t.block_b, "s", color="tab:red", ms=7)
        ax.set(title=f"{t.behaviour}, moved at step {t.move_step}", xlabel="x (m)", ylabel="y (m)", aspect="equal")
    handles = [plt.Line2D([], [], color="tab:orange", label="restart (today)"),
               plt.Line2D([], [], color="tab:blue", label="online (phase kept)"),
               plt.Line2D([], [], color="0.5", ls="--", label="demonstration at B"),
               plt.Line2D([], [], color="k", marker="x", ls="", label="fingertip at the move"),
               plt.Line2D([], [], color="tab:red", marker="s", mfc="none", ls="", label="block A"),
               plt.Line2D([], [], color="tab:red", marker="s", ls="", label="block B")]
    fig.legend(handles=handles, loc="lower center", ncol=6, frameon=False)
    fig.suptitle("The block moves during the approach: fingertip paths from above")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    save_png(fig, path, dpi=110)
    plt.close(fig)


def run_moved(args: argparse.Namespace, config_dir: Path) -> int:
    """Both modes over the same seeded trials; prints a row per trial and the summary, writes JSON and PNG."""
    from latent_nodes.sim import kinematics
    from latent_nodes.sim.demonstrations import train_test_positions

    trials: list[MovedTrial] = []
    demos: dict[int, np.ndarray] = {}
    for mode, node_mode in MODES.items():
        with running_graph(args, config_dir, bag=f"moved_{node_mode}_bag",
                           inference__mode=node_mode) as (inference, driver):
            cfg = inference.completer.config
            if not trials:
                if args.positions is not None:
                    positions = np.asarray(args.positions, dtype=np.float64).reshape(-1, 2)
                else:
                    positions = np.asarray(train_test_positions(cfg.data, cfg.sim)[1], dtype=np.float64)
                scripts = model_behaviours(args, inference.completer)
                trials = make_trials(args.behaviours, positions, cfg.model.seq_len, args.seed)
                if args.trials > 0:
                    trials = trials[: args.trials]
                demonstrate = demonstrator(cfg, len(driver.joint_names), scripts)
                demos = {i: demonstrate(t.behaviour, np.asarray(t.block_b)) for i, t in enumerate(trials)}
                print(f"latent-nodes demo --scenario moved: {len(trials)} trials, each in modes "
                      f"{', '.join(MODES)}; model {args.model or 'shipped default'}\n")
                print(f"{'#':>3} {'mode':<8} {'behaviour':<13} {'A':>15} {'B':>15} {'step':>4} {'closest':>8} "
                      f"{'after':>6} {'path':>6} {'remaining':>9} {'plans':>5}")
                print(f"{'':>3} {'':<8} {'':<13} {'m':>15} {'m':>15} {'':>4} {'mm':>8} {'s':>6} {'m':>6} "
                      f"{'mm':>9} {'':>5}")
            behaviour = None
            for i, trial in enumerate(trials):
                if trial.behaviour != behaviour:
                    driver.set_behaviour(trial.behaviour)
                    behaviour = trial.behaviour
                run = run_trial(driver, trial, demos[i], kinematics.forward_kinematics, inference.dt, args.timeout)
                trial.runs[mode] = run
                a, b = (f"({x:.3f}, {y:+.3f})" for x, y in (trial.block_a, trial.block_b))
                head = f"{i + 1:>3} {mode:<8} {trial.behaviour:<13} {a:>15} {b:>15} {trial.move_step:>4}"
                if run.ok:
                    print(f"{head} {run.closest_mm:8.1f} {run.time_to_closest_s:6.2f} {run.path_after_move_m:6.3f} "
                          f"{run.remaining_distance_mm:9.1f} {run.trajectories:>5}", flush=True)
                else:
                    print(f"{head}  trial failed: {run.note}", flush=True)
    summary = summarize(trials)
    print_summary(summary)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = [{**{k: v for k, v in asdict(t).items() if k != "runs"},
             "runs": {m: asdict(r) for m, r in t.runs.items()}, "demonstration_b": demos[i].tolist()}
            for i, t in enumerate(trials)]
    write_text_atomic(out / "moved_results.json", json.dumps({"summary": summary, "trials": rows}, indent=1))
    tips = {i: np.array([kinematics.forward_kinematics(q) for q in demos[i]]) for i in range(len(trials))}
    plot(trials, tips, out / "moved_paths.png")
    print(f"wrote {out / 'moved_results.json'} and {out / 'moved_paths.png'}")
    return 0 if summary["completed_in_both"] == len(trials) else 1
