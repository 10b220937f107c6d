"""Benchmark: the cost and the accuracy of one online update (``OnlineEstimator.observe``), per backend.

Demonstrations of the default dataset (``--split``, both behaviours) are fed step by step, block (x, y)
and joint angles at every step, to an estimator that knows the behaviour and to one that recognizes it
(both behaviours in one batch), once per inference backend (``InferenceConfig.backend``: ``torch``, the
float32 reference path the estimator used before, and ``numpy``, the default), the two interleaved
demonstration by demonstration so that both see the same load. Every update is timed; the window grows
to 20 steps. Printed per Gauss-Newton budget (``--gn-steps``), mode and backend: p50/p99 over all
updates, p99 without each demonstration's first update (the full search from fresh starts, which the
later ones skip), p50/p99 over the updates with a window of 16-20 steps (the costliest warm-started
ones: the rollout runs up to the last observed step), the CPU time of the updates after the first
(p50/p99 of the thread's own time: what an update costs on a core it does not share, which on a busy
machine the wall-clock figures overstate) and of the first updates (p50), and the accuracy at the last step: the window
error, the RMS joint error over the window (rad) and the largest joint error of the whole completion
against the demonstration (rad). Last, the largest difference between the two backends' completions
over every update (rad), and their time ratio.

    python benchmarks/online_update.py                  # test split, 1 and 2 Gauss-Newton steps, both backends
    python benchmarks/online_update.py --gn-steps 1 --backends numpy --split train --samples 50

Not a test: it prints figures (quoted in docs/online.md) and exits 0. Torch runs on one thread, as in
the inference node; on a shared CPU the figures are noisy, and the ratio from one run is the figure to
compare.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import torch

from latent_nodes.config import Config
from latent_nodes.inference.completion import BehaviourCompleter
from latent_nodes.inference.online import OnlineEstimator


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=None, help="model file (default: the shipped model)")
    p.add_argument("--dataset", default="", help="dataset file (default: data/demonstrations.npz, made if missing)")
    p.add_argument("--split", default="test", choices=["train", "test"])
    p.add_argument("--samples", type=int, default=8, help="demonstrations to feed (seeded choice; 0: all)")
    p.add_argument("--gn-steps", type=int, nargs="+", default=[1, 2], help="Gauss-Newton steps per update")
    p.add_argument("--backends", nargs="+", default=["torch", "numpy"], choices=["torch", "numpy"],
                   help="InferenceConfig.backend of the estimators timed (torch: the reference path)")
    p.add_argument("--window", type=int, default=0, help="window of observed steps (0: all)")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)
    from latent_nodes.scripts.train import load_or_generate_dataset

    base = BehaviourCompleter.from_checkpoint(args.model)
    completers = {b: base.with_settings(dataclasses.replace(base.inference_cfg, backend=b)) for b in args.backends}
    cfg = Config()
    cfg.data.dataset_path = args.dataset
    data = load_or_generate_dataset(cfg)
    data = data.test() if args.split == "test" else data.train()
    rng = np.random.default_rng(args.seed)
    pick = np.arange(len(data)) if args.samples <= 0 else rng.choice(len(data), min(args.samples, len(data)), False)
    n_joints = len(base.joint_names)
    for c in completers.values():  # lazy initialisation (the warm start's fit, the NumPy snapshot) off the clock
        OnlineEstimator(c, None).observe(data.block_xy[0], None)
    print(f"{len(pick)} {args.split} demonstrations x 20 steps, window {args.window or 'all'}, torch threads 1, "
          f"search settings of the model ({base.inference_cfg.steps} steps for a fresh estimate)")
    print(f"{'mode':10s} {'backend':7s} {'GN':>3s} {'p50 ms':>7s} {'p99 ms':>7s} {'p99 later':>9s} {'p50 w16+':>8s} "
          f"{'p99 w16+':>8s} {'window err':>10s} {'joint rms':>9s} {'max |dq|':>8s} {'cpu p50':>7s} {'cpu p99':>7s} "
          f"{'cpu 1st':>7s}")
    for steps in args.gn_steps:
        for mode in ("behaviour", "recognize"):
            times = {b: [] for b in completers}  # (seconds, step, window length) per update
            accuracy = {b: ([], [], []) for b in completers}
            agreement = 0.0
            for i in pick:
                seq, name = data.sequences[i], data.behaviour_names[data.labels[i]]
                joints = {}
                for b, c in completers.items():
                    est = OnlineEstimator(c, None if mode == "recognize" else name, steps=steps,
                                          window=args.window or None)
                    joints[b] = []
                    for t in range(seq.shape[0]):
                        t0, c0 = time.perf_counter(), time.thread_time()
                        e = est.observe(seq[t, n_joints:], seq[t, :n_joints])
                        times[b].append((time.perf_counter() - t0, t, len(e.window), time.thread_time() - c0))
                        joints[b].append(e.completion.joints)
                    errs, rms, dq = accuracy[b]
                    errs.append(e.window_error)
                    rms.append(e.joint_rms)
                    dq.append(float(np.abs(e.completion.joints - seq[:, :n_joints]).max()))
                if len(joints) == 2:
                    agreement = max(agreement, max(float(np.abs(a - b).max()) for a, b in zip(*joints.values())))
            p50 = {}
            for b in completers:
                rows = np.asarray(times[b])
                ms, later, late = 1e3 * rows[:, 0], 1e3 * rows[rows[:, 1] > 0, 0], 1e3 * rows[rows[:, 2] >= 16, 0]
                cpu, cpu_first = 1e3 * rows[rows[:, 1] > 0, 3], 1e3 * rows[rows[:, 1] == 0, 3]
                p50[b] = (np.percentile(ms, 50), np.percentile(ms, 99))
                errs, rms, dq = accuracy[b]
                print(f"{mode:10s} {b:7s} {steps:3d} {p50[b][0]:7.2f} {p50[b][1]:7.2f} {np.percentile(later, 99):9.2f} "
                      f"{np.percentile(late, 50):8.2f} {np.percentile(late, 99):8.2f} {np.mean(errs):10.2e} "
                      f"{np.mean(rms):9.4f} {np.max(dq):8.4f} {np.percentile(cpu, 50):7.2f} "
                      f"{np.percentile(cpu, 99):7.2f} {np.percentile(cpu_first, 50):7.2f}")
            if len(completers) == 2:
                (t50, t99), (n50, n99) = p50["torch"], p50["numpy"]
                print(f"{'':10s} torch / numpy: p50 {t50 / n50:.1f}x, p99 {t99 / n99:.1f}x; largest joint difference "
                      f"between the two over all updates {agreement:.1e} rad")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
