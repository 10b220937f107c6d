"""Round trip figures: a dataset taught through ROS and recorded against the directly generated one.

Reads the two datasets and the two models trained on them (``latent-nodes teach`` -> ``bag2dataset`` ->
``train``, and ``latent-nodes dataset`` -> ``train``, same configuration and seed) and prints

- how far the taught joint paths lie from the generated ones, sample by sample (radians);
- the paper's Table I error for each model (unseen test positions, first-step perception, each
  dimension scaled to [-1, 1] on the model's own training set), on its own test split and on the
  generated test split (the same ground truth for both).

    python benchmarks/round_trip.py runs/your_arm      # taught.npz, generated.npz, taught/, generated/
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def matched(taught, generated):
    """``generated`` reordered to ``taught``'s samples (same behaviour, split and block position)."""
    index = []
    for label, split, xy in zip(taught.labels, taught.split, taught.block_xy):
        hits = np.flatnonzero((generated.labels == label) & (generated.split == split)
                              & np.all(np.abs(generated.block_xy - xy) < 1e-9, axis=1))
        if len(hits) != 1:
            raise ValueError(f"no single generated sample for {taught.behaviour_names[label]} at {xy} ({split})")
        index.append(hits[0])
    return generated.subset(np.array(index))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path, help="directory of taught.npz, generated.npz, taught/ and generated/ (model.pt)")
    args = p.parse_args(argv)
    import torch

    from latent_nodes.data.dataset import load_dataset
    from latent_nodes.evaluation import test_split_errors
    from latent_nodes.model.checkpoint import load_checkpoint

    torch.set_num_threads(1)
    taught = load_dataset(args.run / "taught.npz")
    generated = load_dataset(args.run / "generated.npz")
    same = matched(taught, generated)
    n = len(taught.joint_names)
    diff = taught.sequences[:, :, :n] - same.sequences[:, :, :n]
    print(f"{len(taught)} taught episodes against the generated ones (joint angles, rad):")
    for b, name in enumerate(taught.behaviour_names):
        d = diff[taught.labels == b]
        per = np.sqrt(np.mean(d**2, axis=(1, 2)))
        # Two significant digits: a lock-step teaching run agrees to rounding (1e-9), a real-time one to 1e-2.
        print(f"  {name:<13} RMS {np.sqrt(np.mean(d**2)):.2g}, per-episode RMS median {np.median(per):.2g} "
              f"p90 {np.percentile(per, 90):.2g} max {per.max():.2g}; largest single difference {np.abs(d).max():.2g}")
    print(f"  block positions: largest difference {np.abs(taught.block_xy - same.block_xy).max():.2e} m")
    print("\nTable I error (unseen positions, first-step perception, normalized units):")
    print(f"  {'model':<22} {'test split':<11} " + " ".join(f"{b:>13}" for b in taught.behaviour_names))
    for model in ("taught", "generated"):
        ckpt = load_checkpoint(args.run / model / "model.pt")
        for split_name, ds in (("own", taught if model == "taught" else generated), ("generated", generated)):
            errors = test_split_errors(ckpt.model, ckpt.normalizer, ds, ckpt.config.inference)
            print(f"  {model + ' dataset':<22} {split_name:<11} "
                  + " ".join(f"{errors[b]:>13.5f}" for b in taught.behaviour_names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
