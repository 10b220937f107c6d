"""Benchmark: one-glimpse completion with the block-position warm start against the multi-start search.

For every unseen test position of the default dataset and ``--random`` seeded random positions of the
workspace, both behaviours, ``BehaviourCompleter.complete`` runs with ``warm_start`` off (the multi-start
search: ``n_starts`` training coordinates, the full step budget) and on (the map's single start, a few
Gauss-Newton steps, the search only if that does not converge). It prints

- agreement: the largest joint-angle difference between the two completions (rad, over all steps and
  joints), the Eq. (1) distance between them (normalized units), the Eq. (1) error of each against the
  demonstration at the test positions and the largest difference of those, and how often the warm start
  fell back to the search;
- time per completion, p50 and p99 of each, measured interleaved in the same run, and their ratio.

    python benchmarks/warm_start.py                     # the shipped model, its own inference settings
    python benchmarks/warm_start.py --steps 10          # the step budget config/inference.yaml gives the node

Not a test: it prints figures (quoted in docs/online.md) and exits 0. The CPU may be shared: timings
are noisy, the ratio from the same run is the figure to compare.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import torch

from latent_nodes.config import Config
from latent_nodes.inference.completion import BehaviourCompleter
from latent_nodes.model.training import reconstruction_error


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=None, help="model file (default: the shipped model)")
    p.add_argument("--dataset", default="", help="dataset file (default: data/demonstrations.npz, made if missing)")
    p.add_argument("--random", type=int, default=200, help="random workspace positions besides the test positions")
    p.add_argument("--steps", type=int, default=0, help="step budget of the search (0: the model's own)")
    p.add_argument("--repeats", type=int, default=3, help="timed completions per position, behaviour and variant")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)  # as the inference node runs (NodesConfig.torch_threads)
    from latent_nodes.scripts.train import load_or_generate_dataset

    base = BehaviourCompleter.from_checkpoint(args.model)
    cfg = base.inference_cfg if not args.steps else dataclasses.replace(base.inference_cfg, steps=args.steps)
    full = BehaviourCompleter(base.ckpt, dataclasses.replace(cfg, warm_start=False))
    warm = BehaviourCompleter(base.ckpt, dataclasses.replace(cfg, warm_start=True))
    ws = warm.warm_start
    print(f"search: {cfg.n_starts} starts x {cfg.steps} steps; warm start: polynomial degrees {ws.degrees}, "
          f"leave-one-out RMS {', '.join(f'{e:.4f}' for e in ws.loo_rms)} (xi units)")

    data_cfg = Config()
    data_cfg.data.dataset_path = args.dataset
    test = load_or_generate_dataset(data_cfg).test()
    sim = base.config.sim
    rng = np.random.default_rng(args.seed)
    random_xy = np.stack([rng.uniform(*sim.workspace_x, args.random), rng.uniform(*sim.workspace_y, args.random)], 1)
    norm, dims = base.ckpt.normalizer, list(base.config.model.perception_dims)

    queries = [("test", xy, b, seq) for xy, b, seq in zip(test.block_xy, test.labels, test.sequences)]
    queries += [("random", xy, b, None) for xy in random_xy for b in range(len(base.behaviours))]
    for c in (full, warm):  # first calls pay for lazy initialisation (and the map's fit)
        c.complete(queries[0][1], base.behaviours[0])

    times = {"search": [], "warm": []}
    rows = []
    for kind, xy, b, truth in queries:
        name = base.behaviours[b]
        for _ in range(args.repeats):
            for label, c in (("search", full), ("warm", warm)):
                t0 = time.perf_counter()
                out = c.complete(xy, name)
                times[label].append(time.perf_counter() - t0)
                if label == "search":
                    a = out
                else:
                    w = out
        obs = torch.zeros(1, base.config.model.seq_len, base.config.model.output_dim)
        mask = torch.zeros_like(obs, dtype=torch.bool)
        obs[0, 0, dims] = torch.as_tensor(norm.normalize(xy, dims), dtype=torch.float32)
        mask[0, 0, dims] = True
        converged = warm.warm_start.infer(warm.model, b, norm.normalize(xy, dims), obs, mask, cfg) is not None
        row = {"kind": kind, "joint_diff": float(np.abs(a.joints - w.joints).max()),
               "eq1_between": float(reconstruction_error(norm.normalize(a.sequence), norm.normalize(w.sequence))),
               "fallback": not converged, "error_search": a.error, "error_warm": w.error}
        if truth is not None:
            row["eq1_search"] = float(reconstruction_error(norm.normalize(a.sequence), norm.normalize(truth)))
            row["eq1_warm"] = float(reconstruction_error(norm.normalize(w.sequence), norm.normalize(truth)))
        rows.append(row)

    print(f"\nagreement over {len(rows)} completions ({sum(r['kind'] == 'test' for r in rows)} at test positions, "
          f"{sum(r['kind'] == 'random' for r in rows)} at random workspace positions)")
    for kind in ("test", "random"):
        sel = [r for r in rows if r["kind"] == kind]
        print(f"  {kind:6s}: max |joint difference| {max(r['joint_diff'] for r in sel):.2e} rad, "
              f"max Eq.1 distance {max(r['eq1_between'] for r in sel):.2e}, "
              f"first-step error search max {max(r['error_search'] for r in sel):.1e} / warm max "
              f"{max(r['error_warm'] for r in sel):.1e}, fallbacks {sum(r['fallback'] for r in sel)}/{len(sel)}")
    sel = [r for r in rows if r["kind"] == "test"]
    for b, name in enumerate(base.behaviours):
        es = np.mean([r["eq1_search"] for r, lab in zip(sel, test.labels) if lab == b])
        ew = np.mean([r["eq1_warm"] for r, lab in zip(sel, test.labels) if lab == b])
        print(f"  Eq.1 error against the demonstrations, {name}: search {es:.6f}, warm {ew:.6f}")
    print(f"  max |Eq.1 error difference| at test positions: "
          f"{max(abs(r['eq1_search'] - r['eq1_warm']) for r in sel):.2e}")

    ms = {k: 1e3 * np.asarray(v) for k, v in times.items()}
    print(f"\ntime per completion ({len(ms['search'])} each, interleaved, torch threads 1):")
    for k, label in (("search", "multi-start search"), ("warm", "warm start")):
        print(f"  {label:18s}: p50 {np.percentile(ms[k], 50):6.2f} ms, p99 {np.percentile(ms[k], 99):6.2f} ms")
    print(f"  speed-up: p50 {np.percentile(ms['search'], 50) / np.percentile(ms['warm'], 50):.1f}x, "
          f"p99 {np.percentile(ms['search'], 99) / np.percentile(ms['warm'], 99):.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
