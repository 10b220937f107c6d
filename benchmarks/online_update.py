"""Benchmark: the cost and the accuracy of one online update (``OnlineEstimator.observe``).

Demonstrations of the default dataset (``--split``, both behaviours) are fed step by step, block (x, y)
and joint angles at every step, to an estimator that knows the behaviour and to one that recognizes it
(both behaviours in one batch). Every update is timed; the window grows to 20 steps. Printed per
Gauss-Newton budget (``--gn-steps``): p50/p99 over all updates and over the updates with a window of
16-20 steps (the costliest: the rollout runs up to the last observed step), and the accuracy at the last
step: the window error, the RMS joint error over the window (rad) and the largest joint error of the
whole completion against the demonstration (rad).

    python benchmarks/online_update.py                  # test split, 1 and 2 Gauss-Newton steps
    python benchmarks/online_update.py --gn-steps 1 2 3 --split train --samples 50

Not a test: it prints figures (quoted in docs/online.md) and exits 0. Torch runs on one thread, as in
the inference node; on a shared CPU the figures are noisy.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import torch

from latent_nodes.completion import BehaviourCompleter
from latent_nodes.config import Config
from latent_nodes.online import OnlineEstimator


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=None, help="model file (default: the shipped model)")
    p.add_argument("--dataset", default="", help="dataset file (default: data/demonstrations.npz, made if missing)")
    p.add_argument("--split", default="test", choices=["train", "test"])
    p.add_argument("--samples", type=int, default=8, help="demonstrations to feed (seeded choice; 0: all)")
    p.add_argument("--gn-steps", type=int, nargs="+", default=[1, 2], help="Gauss-Newton steps per update")
    p.add_argument("--glimpse-steps", type=int, default=10, help="step budget of the one-glimpse reference "
                   "(10: what config/inference.yaml gives the inference node)")
    p.add_argument("--window", type=int, default=0, help="window of observed steps (0: all)")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)
    from latent_nodes.scripts.train import load_or_generate_dataset

    completer = BehaviourCompleter.from_checkpoint(args.model)
    cfg = Config()
    cfg.data.dataset_path = args.dataset
    data = load_or_generate_dataset(cfg)
    data = data.test() if args.split == "test" else data.train()
    rng = np.random.default_rng(args.seed)
    pick = np.arange(len(data)) if args.samples <= 0 else rng.choice(len(data), min(args.samples, len(data)), False)
    n_joints = len(completer.joint_names)
    glimpse = BehaviourCompleter(completer.ckpt, dataclasses.replace(
        completer.inference_cfg, steps=args.glimpse_steps, warm_start=False))
    completer.complete(data.block_xy[0], completer.behaviours[0])  # lazy initialisation off the clock
    glimpse.complete(data.block_xy[0], completer.behaviours[0])
    print(f"{len(pick)} {args.split} demonstrations x 20 steps, window {args.window or 'all'}, torch threads 1")
    print(f"{'mode':12s} {'GN':>3s} {'p50 ms':>8s} {'p99 ms':>8s} {'p50 w16+':>9s} {'p99 w16+':>9s} "
          f"{'window err':>11s} {'joint rms':>10s} {'max |dq|':>9s}")
    reference = []
    for steps in args.gn_steps:
        for mode in ("behaviour", "recognize"):
            times, late, errs, rms, dq = [], [], [], [], []
            for i in pick:
                seq, name = data.sequences[i], data.behaviour_names[data.labels[i]]
                est = OnlineEstimator(completer, None if mode == "recognize" else name, steps=steps,
                                      window=args.window or None)
                for t in range(seq.shape[0]):
                    t0 = time.perf_counter()
                    e = est.observe(seq[t, n_joints:], seq[t, :n_joints])
                    dt = time.perf_counter() - t0
                    times.append(dt)
                    if t % 5 == 0:  # the one-glimpse search, interleaved, as a yardstick for the load
                        t0 = time.perf_counter()
                        glimpse.complete(seq[0, n_joints:], name)
                        reference.append(time.perf_counter() - t0)
                    if len(e.window) >= 16:
                        late.append(dt)
                errs.append(e.window_error)
                rms.append(e.joint_rms)
                dq.append(float(np.abs(e.completion.joints - seq[:, :n_joints]).max()))
            ms, lms = 1e3 * np.asarray(times), 1e3 * np.asarray(late)
            print(f"{mode:12s} {steps:3d} {np.percentile(ms, 50):8.2f} {np.percentile(ms, 99):8.2f} "
                  f"{np.percentile(lms, 50):9.2f} {np.percentile(lms, 99):9.2f} {np.mean(errs):11.2e} "
                  f"{np.mean(rms):10.4f} {np.max(dq):9.4f}")
    ref = 1e3 * np.asarray(reference)
    print(f"yardstick, one-glimpse multi-start search ({args.glimpse_steps} steps, no warm start) in the same run: "
          f"p50 {np.percentile(ref, 50):.2f} ms, p99 {np.percentile(ref, 99):.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
