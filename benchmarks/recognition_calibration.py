"""Benchmark: calibrate sequential recognition on validation positions, then score it once on the test positions.

1. Validation: ``--validation`` seeded positions inside the training hull, at least 10 mm from every training
   and test position (``sim.demonstrations.validation_positions``), both behaviours each. Every
   demonstration is shown to an ``OnlineEstimator`` that recognizes (both behaviours in one batch, one
   Gauss-Newton step per update, block and joints at every step), in two ways:

   - clean: the recorded demonstration, step by step (what the model was trained on);
   - executed: the demonstration's joints streamed as targets to ``ArmSimulator`` the way the demo's
     commander executes a trajectory, observed at the node's step times (``sim.executed_arm``: point k at
     (k + 1) dt, linear in between, targets at 50 Hz, the PD servos lagging them; step 0 when the pose
     arrives, step k at (k + 1) dt after it). The pose arrives ``delay`` after the motion starts (uniform
     in [0, --delay-max] per trial), each observation is late by up to --jitter (the executor) and the
     joint state it reads up to 10 ms old (100 Hz /joint_states). Each ``--runs`` seed is one run with its own timing.

   ``sequential_recognition.calibrate`` chooses the rule's thresholds from the validation window errors
   only (both arms together); ``calibrate`` and this script refuse positions within 10 mm of a test one.
2. Test, once: the 16 unseen test positions x 2 behaviours (32 trials) clean and in every executed run,
   with timing seeds that validation did not use. Accuracy / abstained / wrong per k for the old margin
   (``RecognitionMargin()`` defaults, as the node ran it) and the calibrated sequential rule side by side.

Writes the thresholds, the validation figures and the test figures to ``--out`` (atomically)::

    python benchmarks/recognition_calibration.py                   # about 10 minutes on one core
    python benchmarks/recognition_calibration.py --out /tmp/r.json --validation 8 --runs 1
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict

import numpy as np
import torch

from latent_nodes.atomic import write_text_atomic
from latent_nodes.config import Config
from latent_nodes.inference.completion import BehaviourCompleter
from latent_nodes.inference.online import OnlineEstimator
from latent_nodes.inference.recognition import RecognitionMargin
from latent_nodes.inference.sequential_recognition import (
    SequentialThresholds,
    calibrate,
    check_disjoint,
    score,
)
from latent_nodes.sim.demonstrations import (
    VALIDATION_MIN_GAP,
    generate_demonstration,
    sample_rng,
    train_test_positions,
    validation_positions,
)
from latent_nodes.sim.executed_arm import COMMAND_RATE, observed_joints
from latent_nodes.sim.simulator import ArmSimulator

STATE_AGE = 0.01  # s, the largest age of a /joint_states message at 100 Hz
TARGET = 0.95


def window_errors(completer: BehaviourCompleter, xy: np.ndarray, joints: np.ndarray) -> np.ndarray:
    """[T - 1, B] every behaviour's window error after each of k = 1..T-1 observed steps."""
    est = OnlineEstimator(completer, None, steps=1)
    rows = []
    for t in range(len(joints) - 1):
        rec = est.observe(xy, joints[t]).recognition
        rows.append([rec.errors[n] for n in completer.behaviours])
    return np.array(rows)


def arms(completer: BehaviourCompleter, cfg: Config, positions: np.ndarray, clean_is_test: bool | None,
         run_seeds: list[int], delay_max: float, jitter: float) -> dict[str, dict]:
    """Window errors [N, K, B] and truth [N] of every behaviour at every position, clean and per executed run.

    clean_is_test: the clean demonstrations' perturbation stream (False/True: the dataset's training/test
    samples' own, by position index; None: the validation stream, ``sample_rng`` with is_test = 2).
    """
    names = completer.behaviours
    sim = ArmSimulator(cfg.sim)
    n_joints = len(completer.joint_names)
    out: dict[str, dict] = {"clean": {"errors": [], "truth": []}}
    out.update({f"executed_{s}": {"errors": [], "truth": [], "delay": []} for s in run_seeds})
    for b, name in enumerate(names):
        for i, xy in enumerate(positions):
            rng = sample_rng(cfg.data.seed, b, 2 if clean_is_test is None else clean_is_test, i)
            clean = generate_demonstration(name, xy, rng, cfg.sim, cfg.data, simulator=sim)[:, :n_joints]
            out["clean"]["errors"].append(window_errors(completer, xy, clean))
            out["clean"]["truth"].append(b)
            # The demo executes the unperturbed demonstration (scripts.demo.demonstrator).
            targets = generate_demonstration(name, xy, None, cfg.sim, cfg.data, simulator=sim)[:, :n_joints]
            for s in run_seeds:
                timing = np.random.default_rng([s, b, i])
                delay = timing.uniform(0.0, delay_max)
                seen = observed_joints(sim, targets, xy, cfg.sim.dt, delay, timing.uniform(0, jitter, len(targets)),
                                       timing.uniform(0, STATE_AGE, len(targets)))
                arm = out[f"executed_{s}"]
                arm["errors"].append(window_errors(completer, xy, seen))
                arm["truth"].append(b)
                arm["delay"].append(delay)
        print(f"  {name}: {len(positions)} positions done", flush=True)
    sim.close()
    return {k: {f: np.asarray(v) for f, v in a.items()} for k, a in out.items()}


def figures(names: tuple[str, ...], arm: dict, rules: dict) -> dict:
    """Per rule: accuracy / abstained / wrong per k, and the smallest k from which accuracy stays >= 95 %."""
    out = {}
    for rule_name, decide in rules.items():
        acc, abst, wrong = decide(names, arm["errors"], arm["truth"])
        held = [k for k in range(len(acc)) if np.all(acc[k:] >= TARGET)]
        out[rule_name] = {"accuracy": np.round(acc, 4).tolist(), "abstained": np.round(abst, 4).tolist(),
                          "wrong": np.round(wrong, 4).tolist(), "max_wrong": float(np.max(wrong)),
                          "k_95_and_after": held[0] + 1 if held else None}
    right = arm["errors"][np.arange(len(arm["truth"])), :, arm["truth"]]
    other = arm["errors"][np.arange(len(arm["truth"])), :, 1 - arm["truth"]] if len(names) == 2 else None
    out["ranked_right"] = np.round(np.mean(np.argmin(arm["errors"], axis=2) == arm["truth"][:, None], axis=0),
                                   4).tolist()
    out["right_error_median"] = [float(f"{v:.3g}") for v in np.median(right, axis=0)]
    out["right_error_max"] = [float(f"{v:.3g}") for v in np.max(right, axis=0)]
    if other is not None:
        out["wrong_error_min"] = [float(f"{v:.3g}") for v in np.min(other, axis=0)]
    return out


def margin_rule(margin: RecognitionMargin):
    def decide(names, errors, truth):
        d = np.array([[margin.decide(names, row).decision for row in e] for e in errors])
        right = d == np.array([names[t] for t in truth])[:, None]
        undecided = ~np.isin(d, names)
        return right.mean(axis=0), undecided.mean(axis=0), (~right & ~undecided).mean(axis=0)
    return decide


def sequential_rule(th: SequentialThresholds):
    return lambda names, errors, truth: score(th, names, errors, truth)


def pooled(arms_: dict, keys: list[str]) -> dict:
    return {"errors": np.concatenate([arms_[k]["errors"] for k in keys]),
            "truth": np.concatenate([arms_[k]["truth"] for k in keys])}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=None, help="model file (default: the shipped model)")
    p.add_argument("--validation", type=int, default=16, help="validation positions (each shown in every behaviour)")
    p.add_argument("--seed", type=int, default=0, help="seed of the validation positions")
    p.add_argument("--runs", type=int, default=2, help="executed runs with different timing, per set")
    p.add_argument("--delay-max", type=float, default=0.08, help="pose arrival after the motion started, s (max)")
    p.add_argument("--jitter", type=float, default=0.02, help="an observation's lateness, s (max)")
    p.add_argument("--safety", type=float, default=2.0, help="upper = this x the largest wrong evidence on validation")
    p.add_argument("--out", default="docs/recognition_calibration.json")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)
    started = time.time()
    completer = BehaviourCompleter.from_checkpoint(args.model)
    cfg = completer.config
    names = tuple(completer.behaviours)
    train_xy, test_xy = train_test_positions(cfg.data, cfg.sim)
    val_xy = validation_positions(args.validation, args.seed, cfg.data, cfg.sim)
    check_disjoint(val_xy, test_xy, VALIDATION_MIN_GAP, "test")
    val_seeds = [1000 + r for r in range(args.runs)]  # timing seeds: validation's and test's never coincide
    test_seeds = [2000 + r for r in range(args.runs)]

    print(f"validation: {len(val_xy)} positions x {len(names)} behaviours, clean + {args.runs} executed runs")
    val = arms(completer, cfg, val_xy, None, val_seeds, args.delay_max, args.jitter)
    # The noise floor: after one step every behaviour explains the home pose; the floor is twice the largest
    # k = 1 window error on validation (clean and executed), so such errors give log-ratios below log 1.5.
    floor = 2.0 * float(max(np.max(a["errors"][:, 0, :]) for a in val.values()))
    every = pooled(val, list(val))
    trial_xy = np.tile(val_xy, (len(names) * len(val), 1))  # arms() orders trials behaviour, then position
    cal = calibrate(names, every["errors"], every["truth"], positions=trial_xy,
                    held_out=np.concatenate([test_xy, train_xy]), floor=floor, safety=args.safety)
    th = cal.thresholds
    print(f"chosen: upper {th.upper:.3g}, lower {th.lower:.3g}, drift {th.drift:g}, floor {th.floor:.3g}, "
          f"max_error {th.max_error:.3g} "
          f"(largest wrong evidence {cal.wrong_max:.3g}, right evidence held >= {cal.right_min_held:.3g})")
    rules = {"margin": margin_rule(RecognitionMargin()), "sequential": sequential_rule(th)}
    validation = {k: figures(names, a, rules) for k, a in val.items()}

    print(f"test, once: {len(test_xy)} positions x {len(names)} behaviours, clean + {args.runs} executed runs")
    test = arms(completer, cfg, test_xy, True, test_seeds, args.delay_max, args.jitter)
    scored = {k: figures(names, a, rules) for k, a in test.items()}
    executed_keys = [k for k in test if k.startswith("executed")]
    scored["executed_all_runs"] = figures(names, pooled(test, executed_keys), rules)
    for k, f in scored.items():
        print(f"\n{k}:\n  {'k':>3} {'margin acc':>10} {'abst':>6} {'wrong':>6} | "
              f"{'seq acc':>8} {'abst':>6} {'wrong':>6}")
        for i in range(len(f["margin"]["accuracy"])):
            m, s = f["margin"], f["sequential"]
            print(f"  {i + 1:>3} {m['accuracy'][i]:10.0%} {m['abstained'][i]:6.0%} {m['wrong'][i]:6.0%} | "
                  f"{s['accuracy'][i]:8.0%} {s['abstained'][i]:6.0%} {s['wrong'][i]:6.0%}")
        print(f"  from k = {m['k_95_and_after']} (margin) / {s['k_95_and_after']} (sequential) at least 95 % "
              f"right at every later k; most wrong at any k {m['max_wrong']:.0%} / {s['max_wrong']:.0%}")
    pooled_seq = scored["executed_all_runs"]["sequential"]
    result = {
        "command": " ".join(["python benchmarks/recognition_calibration.py", *(argv or [])]),
        "model": args.model or "shipped",
        "thresholds": {k: (None if v == float("inf") else v) for k, v in asdict(th).items()},  # None: no bound
        "calibration": {"validation_positions": val_xy.round(4).tolist(), "seed": args.seed,
                        "min_distance_to_train_and_test_m": VALIDATION_MIN_GAP,
                        "timing_seeds": val_seeds, "floor_rule": "2 x the largest k = 1 window error",
                        "upper_rule": f"{args.safety:g} x the largest wrong-behaviour evidence",
                        "lower_rule": "0.5 x the smallest right-behaviour evidence once decided (<= upper)",
                        "max_error_rule": f"{args.safety:g} x the largest right-behaviour window error",
                        "wrong_evidence_max": cal.wrong_max, "right_evidence_held_min": cal.right_min_held},
        "simulation": {"delay_max_s": args.delay_max, "jitter_s": args.jitter, "joint_state_age_s": STATE_AGE,
                       "command_rate_hz": COMMAND_RATE},
        "validation": validation,
        "test": {"positions": test_xy.round(4).tolist(), "timing_seeds": test_seeds, **scored},
        "aims": {"executed_k_95_and_after_at_most": 4, "executed_wrong_at_most": 0.01,
                 "met": bool(pooled_seq["k_95_and_after"] is not None and pooled_seq["k_95_and_after"] <= 4
                             and pooled_seq["max_wrong"] <= 0.01)},
        "seconds": round(time.time() - started, 1),
    }
    write_text_atomic(args.out, json.dumps(result, indent=1) + "\n")
    print(f"\nwritten {args.out} ({result['seconds']:.0f} s); aims met: {result['aims']['met']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
