"""`latent-nodes demo --scenario recognize`: the arm shows the start of a demonstration; how soon is it recognized?

The inference node runs with ``mode: online`` and ``behaviour: auto``. For every unseen test position and
behaviour, the demo drives the simulated arm through the demonstration's own joint targets (a trajectory
to the commander, stamped with the time the block pose is requested, so that the arm's steps and the
node's steps share one clock) and lets perception report the block. The node observes the block and
the joints at every step and recognizes the behaviour from the prefix it has seen.

To know what the node would do after k shown steps, for every k = 1..19 from one run, the node's
trajectories are diverted to ``/recognize/proposal`` (a remapping) instead of reaching the commander:
after k steps, the node's decision is the one on ``/inference/result`` for step k - 1, and the plan it
would hand over is the last proposal published up to that step. Reported against k: recognition
accuracy (decided and right), abstentions and wrong decisions, and the completion error of that plan
(mean fingertip distance to the demonstration over the steps k..T-1), and the smallest k with at least
95 % accuracy. The execution after a takeover is the commander's splice (the ``moved`` scenario measures
it); it is not executed again for every k here. Writes ``recognize_results.json`` and
``recognize_accuracy.png``.
"""

from __future__ import annotations

import argparse
import json
import math
import threading
import time
from pathlib import Path

import numpy as np

from latent_nodes.atomic import save_png, write_text_atomic
from latent_nodes.demo.driver import Driver
from latent_nodes.demo.graph import running_graph
from latent_nodes.demo.reference import demonstrator, model_behaviours

PROPOSAL = "/recognize/proposal"
TARGET_ACCURACY = 0.95


class Proposals:
    """The node's diverted trajectories, in the order published."""

    def __init__(self, driver: Driver) -> None:
        from trajectory_msgs.msg import JointTrajectory

        self.lock = threading.Lock()
        self.plans: list[np.ndarray] = []
        self.names = list(driver.joint_names)
        self.messages = driver.messages
        driver.node.create_subscription(JointTrajectory, PROPOSAL, self.on_plan, 10)
        self.shown = driver.node.create_publisher(JointTrajectory, driver.messages.COMPLETED_BEHAVIOUR, 10)

    def on_plan(self, msg) -> None:
        names, _, positions = self.messages.trajectory_arrays(msg)
        order = [names.index(n) for n in self.names]
        with self.lock:
            self.plans.append(np.asarray(positions)[:, order])

    def clear(self) -> None:
        with self.lock:
            self.plans = []


def run_trial(driver: Driver, proposals: Proposals, behaviour: str, xy: np.ndarray, demo: np.ndarray,
              dt: float, steps: int, timeout: float) -> dict:
    """Show the whole demonstration; return the node's per-step results and its proposals."""
    from std_srvs.srv import Trigger

    driver.call(driver.reset_client, Trigger.Request())
    driver.clear()
    proposals.clear()
    if not driver.place(xy, timeout=2.0):
        raise RuntimeError("the simulator did not report the block")
    # Camera: a frame showing the block where it now is, before the shown demonstration starts, so that
    # the pose asked for with its first step is not an image from before the block was placed.
    if driver.camera and not driver.wait_frame(driver.block_stamp, timeout):
        raise RuntimeError("no camera frame after the block was placed")
    now = driver.node.get_clock().now()
    proposals.shown.publish(driver.messages.joint_trajectory(proposals.names, demo, dt, stamp=now.to_msg()))
    if not driver.perceive(timeout=timeout):
        raise RuntimeError("perception did not see the block")
    if not driver.wait(lambda: any(r.get("step") == steps - 1 for r in driver.results), timeout):
        raise RuntimeError("the inference node did not report the behaviour's last step")
    if not driver.wait(lambda: driver.tracking_error is not None, timeout):
        raise RuntimeError("the commander did not finish showing the demonstration")
    time.sleep(0.2)  # a proposal published with the last result is still on its way
    with driver.lock:
        results = sorted((r for r in driver.results if r.get("mode") == "online"), key=lambda r: r["step"])
    with proposals.lock:
        plans = list(proposals.plans)
    return {"results": results, "plans": plans}


def per_k(behaviour: str, results: list[dict], plans: list[np.ndarray], demo_tips: np.ndarray, fk,
          steps: int) -> list[dict]:
    """For k = 1..steps-1: the decision after k shown steps and the error of the plan the node holds then."""
    rows = []
    tips_cache: dict[int, np.ndarray] = {}
    for k in range(1, steps):
        seen = [r for r in results if r["step"] <= k - 1]
        decision = seen[-1]["decision"] if seen else "none"
        held = sum(bool(r["published"]) for r in seen) - 1  # index of the last proposal published by then
        error = math.nan
        if 0 <= held < len(plans):
            if held not in tips_cache:
                tips_cache[held] = np.array([fk(q) for q in plans[held]])
            error = 1e3 * float(np.mean(np.linalg.norm(tips_cache[held][k:] - demo_tips[k:], axis=1)))
        errors = seen[-1]["errors"] if seen else {}
        ranked = min(errors, key=lambda n: math.inf if errors[n] is None else errors[n]) if errors else None
        rows.append({"k": k, "decision": decision, "right": decision == behaviour, "ranked_right": ranked == behaviour,
                     "errors": seen[-1]["errors"] if seen else None, "completion_error_mm": error})
    return rows


def summarize(trials: list[dict], steps: int) -> dict:
    done = [t for t in trials if t["ok"]]
    ks = list(range(1, steps))
    summary: dict = {"trials": len(trials), "completed": len(done), "k": ks, "accuracy": [], "ranked_right": [],
                     "abstained": [],
                     "wrong": [], "completion_error_mm_median": [], "completion_error_mm_p90": [],
                     "with_plan": []}
    for i, _ in enumerate(ks):
        rows = [t["per_k"][i] for t in done]
        n = max(1, len(rows))
        summary["accuracy"].append(sum(r["right"] for r in rows) / n)
        summary["ranked_right"].append(sum(r["ranked_right"] for r in rows) / n)
        summary["abstained"].append(sum(r["decision"] in ("undecided", "none") for r in rows) / n)
        summary["wrong"].append(sum(r["decision"] not in ("undecided", "none") and not r["right"] for r in rows) / n)
        errors = np.array([r["completion_error_mm"] for r in rows if not math.isnan(r["completion_error_mm"])])
        summary["with_plan"].append(len(errors))
        summary["completion_error_mm_median"].append(float(np.median(errors)) if len(errors) else None)
        summary["completion_error_mm_p90"].append(float(np.percentile(errors, 90)) if len(errors) else None)
    good = [k for k, a in zip(ks, summary["accuracy"]) if a >= TARGET_ACCURACY]
    summary["smallest_k_95"] = good[0] if good and done else None
    return summary


def print_summary(summary: dict) -> None:
    print(f"\n{summary['completed']} of {summary['trials']} trials completed")
    print(f"  {'k':>3} {'accuracy':>9} {'ranked right':>13} {'abstained':>10} {'wrong':>7} {'plans':>6} "
          f"{'error median':>13} {'p90':>8}")
    for i, k in enumerate(summary["k"]):
        med, p90 = summary["completion_error_mm_median"][i], summary["completion_error_mm_p90"][i]
        print(f"  {k:>3} {100 * summary['accuracy'][i]:8.0f}% {100 * summary['ranked_right'][i]:12.0f}% "
              f"{100 * summary['abstained'][i]:9.0f}% "
              f"{100 * summary['wrong'][i]:6.0f}% {summary['with_plan'][i]:>6} "
              f"{'-' if med is None else f'{med:.1f} mm':>13} {'-' if p90 is None else f'{p90:.1f}':>8}")
    print(f"  smallest k with at least {100 * TARGET_ACCURACY:.0f} % accuracy: {summary['smallest_k_95']}")


def plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ks = summary["k"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    left.plot(ks, summary["accuracy"], "o-", label="decided, right")
    left.plot(ks, summary["ranked_right"], ".-", color="0.5", label="ranked first, right (decided or not)")
    left.plot(ks, summary["abstained"], "s--", label="undecided")
    left.plot(ks, summary["wrong"], "x:", label="decided, wrong")
    left.axhline(TARGET_ACCURACY, color="0.6", lw=0.8)
    left.set(xlabel="steps shown k", ylabel="fraction of trials", title="Recognition", ylim=(-0.03, 1.03))
    left.legend(frameon=False)
    med = [np.nan if v is None else v for v in summary["completion_error_mm_median"]]
    p90 = [np.nan if v is None else v for v in summary["completion_error_mm_p90"]]
    right.plot(ks, med, "o-", label="median")
    right.plot(ks, p90, "s--", label="90th percentile")
    right.set(xlabel="steps shown k", ylabel="mm", yscale="log",
              title="Completion error of the plan held after k steps\n(mean fingertip distance, steps k..T-1)")
    right.legend(frameon=False)
    fig.tight_layout()
    save_png(fig, path, dpi=110)
    plt.close(fig)


def rule_label(settings) -> str:
    """The recognition rule the node runs and its thresholds, for the printed header."""
    if settings.recognition_rule == "margin":
        return f"margin rule, recognition_max_error {settings.recognition_max_error:g}"
    return (f"sequential rule, recognition_upper {settings.recognition_upper:g}, lower "
            f"{settings.recognition_lower:g}, drift {settings.recognition_drift:g}")


def run_recognize(args: argparse.Namespace, config_dir: Path) -> int:
    from latent_nodes.nodes import messages
    from latent_nodes.sim import kinematics
    from latent_nodes.sim.demonstrations import train_test_positions

    remap = (f"inference:{messages.COMPLETED_BEHAVIOUR}:={PROPOSAL}",)
    overrides = {"inference__mode": "online", "inference__behaviour": "auto"}
    if args.recognition_rule is not None:
        overrides["inference__recognition_rule"] = args.recognition_rule
    if args.recognition_max_error is not None:
        overrides["inference__recognition_max_error"] = repr(float(args.recognition_max_error))
    with running_graph(args, config_dir, remaps=remap, bag="recognize_bag", **overrides) as (inference, driver):
        cfg = inference.completer.config
        steps, dt, fk = int(cfg.model.seq_len), inference.dt, kinematics.forward_kinematics
        if args.positions is not None:
            positions = np.asarray(args.positions, dtype=np.float64).reshape(-1, 2)
        else:
            positions = np.asarray(train_test_positions(cfg.data, cfg.sim)[1], dtype=np.float64)
        scripts = model_behaviours(args, inference.completer)
        cases = [(b, xy) for b in args.behaviours for xy in positions]
        if args.trials > 0:
            cases = cases[: args.trials]
        demonstrate = demonstrator(cfg, len(driver.joint_names), scripts)
        proposals = Proposals(driver)
        print(f"latent-nodes demo --scenario recognize: {len(cases)} demonstrations shown step by step, the "
              f"node recognizing ({rule_label(inference.settings)}); "
              f"model {args.model or 'shipped default'}\n")
        trials = []
        for i, (behaviour, xy) in enumerate(cases, 1):
            demo = demonstrate(behaviour, xy)
            trial = {"behaviour": behaviour, "block_xy": xy.tolist(), "ok": False, "note": ""}
            try:
                got = run_trial(driver, proposals, behaviour, xy, demo, dt, steps, args.timeout)
            except RuntimeError as exc:
                trial["note"] = str(exc)
                print(f"{i:>3} {behaviour:<13} ({xy[0]:.3f}, {xy[1]:+.3f})  trial failed: {exc}", flush=True)
                trials.append(trial)
                continue
            demo_tips = np.array([fk(q) for q in demo])
            trial["per_k"] = per_k(behaviour, got["results"], got["plans"], demo_tips, fk, steps)
            trial["steps_observed"] = [r["step"] for r in got["results"]]
            trial["ok"] = True
            first = next((r["k"] for r in trial["per_k"] if r["right"]), None)
            print(f"{i:>3} {behaviour:<13} ({xy[0]:.3f}, {xy[1]:+.3f})  right from k = {first}; "
                  f"{len(got['plans'])} plans; steps observed {len(got['results'])}", flush=True)
            trials.append(trial)
    summary = summarize(trials, steps)
    summary["recognition_rule"] = inference.settings.recognition_rule
    summary["recognition_max_error"] = inference.settings.recognition_max_error
    print_summary(summary)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "recognize_results.json",
                      json.dumps({"summary": clean(summary), "trials": clean(trials)}, indent=1, allow_nan=False))
    plot(summary, out / "recognize_accuracy.png")
    print(f"wrote {out / 'recognize_results.json'} and {out / 'recognize_accuracy.png'}")
    return 0 if summary["completed"] == len(trials) else 1


def clean(value):
    """NaN -> None, for strict JSON."""
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
