"""Benchmark: recognition accuracy and abstention against the observed prefix length k, and the margin.

Every training and test demonstration of the default dataset is fed step by step (block (x, y) and joint
angles) to an ``OnlineEstimator`` that recognizes the behaviour (both behaviours in one batch). After
each prefix of k = 1..19 steps it records both behaviours' window errors and the decision of the margin
(``RecognitionMargin``, defaults or the options below). Printed per split and k:

- ranked: the share of samples whose best-fitting behaviour is the right one (no abstention);
- accuracy: the share decided *and* right; abstained: the share undecided; wrong: the share decided wrong;
- the quantities the margin is made of: the right behaviour's largest window error, the wrong one's
  smallest, the smallest and largest gap (wrong - right) and the smallest ratio (wrong / right).

    python benchmarks/recognition_margin.py
    python benchmarks/recognition_margin.py --ratio 2 --min-gap 1e-4 --max-error 1e-2

Not a test: it prints the table quoted in docs/online.md and exits 0.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from latent_nodes.config import Config
from latent_nodes.inference.completion import BehaviourCompleter
from latent_nodes.inference.online import OnlineEstimator
from latent_nodes.inference.recognition import RecognitionMargin


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    d = RecognitionMargin()
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=None, help="model file (default: the shipped model)")
    p.add_argument("--dataset", default="", help="dataset file (default: data/demonstrations.npz, made if missing)")
    p.add_argument("--ratio", type=float, default=d.ratio)
    p.add_argument("--min-gap", type=float, default=d.min_gap)
    p.add_argument("--max-error", type=float, default=d.max_error)
    p.add_argument("--gn-steps", type=int, default=1, help="Gauss-Newton steps per update")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)
    from latent_nodes.scripts.train import load_or_generate_dataset

    margin = RecognitionMargin(ratio=args.ratio, min_gap=args.min_gap, max_error=args.max_error)
    completer = BehaviourCompleter.from_checkpoint(args.model)
    cfg = Config()
    cfg.data.dataset_path = args.dataset
    data = load_or_generate_dataset(cfg)
    names = completer.behaviours
    n_joints = len(completer.joint_names)
    steps = data.sequences.shape[1]
    print(f"margin: ratio >= {margin.ratio:g}, gap >= {margin.min_gap:g}, best error <= {margin.max_error:g} "
          f"(normalized units); {args.gn_steps} Gauss-Newton step(s) per update")
    for split, part in (("train", data.train()), ("test", data.test())):
        right = np.zeros((len(part), steps - 1))
        wrong = np.zeros_like(right)
        decision = np.empty(right.shape, dtype=object)
        for i, (seq, label) in enumerate(zip(part.sequences, part.labels)):
            est = OnlineEstimator(completer, None, steps=args.gn_steps, margin=margin)
            truth, other = part.behaviour_names[label], part.behaviour_names[1 - label]
            for t in range(steps - 1):
                rec = est.observe(seq[t, n_joints:], seq[t, :n_joints]).recognition
                right[i, t], wrong[i, t] = rec.errors[truth], rec.errors[other]
                decision[i, t] = rec.decision
        truth = np.array([part.behaviour_names[b] for b in part.labels])[:, None]
        correct = decision == truth
        undecided = np.array([[d not in names for d in row] for row in decision])
        print(f"\n{split}: {len(part)} demonstrations")
        print(f"{'k':>3s} {'ranked':>7s} {'accuracy':>9s} {'abstained':>10s} {'wrong':>6s} {'right max':>10s} "
              f"{'wrong min':>10s} {'gap min':>9s} {'gap max':>9s} {'ratio min':>10s}")
        for t in range(steps - 1):
            gap, ratio = wrong[:, t] - right[:, t], wrong[:, t] / np.maximum(right[:, t], 1e-300)
            print(f"{t + 1:3d} {np.mean(wrong[:, t] > right[:, t]):7.1%} {correct[:, t].mean():9.1%} "
                  f"{undecided[:, t].mean():10.1%} {(~correct[:, t] & ~undecided[:, t]).mean():6.1%} "
                  f"{right[:, t].max():10.2e} {wrong[:, t].min():10.2e} {gap.min():9.2e} {gap.max():9.2e} "
                  f"{ratio.min():10.2f}")
        acc = correct.mean(axis=0)
        first = next((t + 1 for t in range(steps - 1) if acc[t] >= 0.95), None)
        print(f"smallest k with at least 95 % accuracy: {first}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
