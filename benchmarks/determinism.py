"""Benchmark: does the same seed give the same weights, and does the torch thread count change them?

Trains the test suite's small synthetic model three times with one seed: twice with 1 torch thread and
once with 2, and prints whether the two 1-thread runs are bit-identical and how far the 2-thread run's
weights are from them. Floating-point sums are not associative, so another thread count (or another
machine's kernels) may reorder them; docs/results.md ("Determinism") quotes what this prints.

    python benchmarks/determinism.py [--epochs 60] [--seed 3]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "test"))  # the synthetic behaviours


def weights(seed: int, epochs: int, threads: int) -> torch.Tensor:
    from latent_nodes.config import Config
    from latent_nodes.model.training import Trainer

    from synthetic import dataset

    torch.set_num_threads(threads)
    cfg = Config()
    cfg.model.layer_sizes = [32, 16, 8]
    cfg.train.batch_size = 16
    cfg.train.seed = seed
    seqs, labels, _ = dataset()
    trainer = Trainer(cfg, seqs, labels)
    trainer.fit(epochs)
    return torch.cat([p.detach().flatten() for p in trainer.model.parameters()])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--seed", type=int, default=3)
    args = p.parse_args(argv)
    first, second = weights(args.seed, args.epochs, 1), weights(args.seed, args.epochs, 1)
    other = weights(args.seed, args.epochs, 2)
    print(f"{args.epochs} epochs, seed {args.seed}, {first.numel()} weights")
    print(f"  1 thread, twice: bit-identical = {torch.equal(first, second)}")
    print(f"  1 thread vs 2 threads: max |difference| = {(first - other).abs().max().item():.1e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
