"""Benchmark: training time per epoch of the default model, the fused rollout against the step-by-step reference.

Two trainers start from the same seed on the same data and configuration (the default model: 4000
epochs of mini-batches of 25, lambda = 1, n_MC = 4). One trains as ``latent-nodes train`` does
(``PVRNN.forward``, whose rollout has its own backward, the regularizer's tangents carried through
the embedding by hand, fused Adam); the other computes the same loss the slow way
(``PVRNN.reference_forward``, the equations step by step under autograd, ``conformal_regularizer_jvp``
with ``torch.func.jvp``, Adam one operation at a time), which is how training ran before. They
alternate in blocks of epochs, so that a busy, shared CPU slows both alike; the ratio of each block
pair is printed, and the median over the blocks. Then the three parts that changed are timed alone.

It also checks that the two compute the same thing: from identical weights, the first epoch's loss
terms and the weights after it agree to float32 rounding (they differ only in the order of operations;
Adam divides by the gradient's running RMS, so weights differ a little more than losses).

    python benchmarks/training_speed.py                  # 2 torch threads, 4 blocks of 50 epochs each
    python benchmarks/training_speed.py --threads 1 --epochs 100 --blocks 3

Not a test: it prints figures (quoted in docs/method.md) and exits 0.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from latent_nodes.config import Config
from latent_nodes.model.regularizer import conformal_regularizer, conformal_regularizer_jvp
from latent_nodes.model.training import Trainer, reconstruction_error, trainer_for_dataset
from latent_nodes.scripts.train import load_or_generate_dataset


class ReferenceTrainer(Trainer):
    """The same loss as ``Trainer``, computed by the reference rollout and ``torch.func.jvp``, with plain Adam."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.cfg.train.lr, foreach=False)

    def losses(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        model = self.model
        coords, pattern = model.coords[index], model.sample_patterns[index]
        x = model.pvrnn.reference_forward(model.to_latent(coords, pattern), pattern)
        recon = reconstruction_error(x, self.sequences[index]).mean()
        if model.embedding is None:
            return recon, torch.zeros(())
        if self.regularized:
            return recon, conformal_regularizer_jvp(model.embedding, coords, pattern, self.cfg.train.n_mc,
                                                    self.reg_gen)
        with torch.no_grad():
            g = torch.Generator().manual_seed(self.epoch)
            return recon, conformal_regularizer_jvp(model.embedding, coords.detach(), pattern, self.cfg.train.n_mc, g)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=2, help="torch threads (set explicitly: timings depend on it)")
    p.add_argument("--epochs", type=int, default=50, help="epochs per timed block")
    p.add_argument("--blocks", type=int, default=4, help="timed blocks per trainer, alternating")
    p.add_argument("--warmup", type=int, default=5, help="epochs run first and not timed")
    p.add_argument("--case", default="embedding+regularization", help="Table I case to train")
    return p.parse_args(argv)


def timed(trainer: Trainer, epochs: int) -> float:
    """Seconds per epoch over the next ``epochs`` epochs."""
    start = time.perf_counter()
    trainer.fit(trainer.epoch + epochs)
    return (time.perf_counter() - start) / epochs


def agreement(cfg: Config, dataset) -> tuple[float, float]:
    """Largest relative differences of the first epoch's loss and of the weights after it, fused vs reference."""
    fused, _ = trainer_for_dataset(cfg, dataset)
    reference = ReferenceTrainer(cfg, fused.sequences, fused.labels)
    reference.model.load_state_dict(fused.model.state_dict())
    a, b = fused.run_epoch(), reference.run_epoch()
    loss = max(abs(x - y) / abs(y) for x, y in ((a.loss, b.loss), (a.regularizer, b.regularizer)))
    weights = max(((p - q).abs().max() / q.abs().max()).item()
                  for p, q in zip(fused.model.parameters(), reference.model.parameters()))
    return loss, weights


def parts(trainer: Trainer, repeats: int) -> list[tuple[str, float, float]]:
    """(part, reference ms, fused ms) per training step for the three parts that changed, one batch each."""
    model, n_mc = trainer.model, trainer.cfg.train.n_mc
    index = torch.arange(min(int(trainer.cfg.train.batch_size), len(trainer.labels)))
    coords, pattern = model.coords[index].detach(), model.sample_patterns[index]
    z = model.to_latent(coords, pattern).detach().requires_grad_(True)
    adam = {"reference": torch.optim.Adam(model.parameters(), lr=1e-9, foreach=False),
            "fused": torch.optim.Adam(model.parameters(), lr=1e-9, fused=True)}
    cases = {
        "rollout, forward + backward": (lambda: model.pvrnn.reference_forward(z, pattern).sum().backward(),
                                        lambda: model.pvrnn(z, pattern).sum().backward()),
        "regularizer, forward + backward": (
            lambda: conformal_regularizer_jvp(model.embedding, coords, pattern, n_mc, torch.Generator()).backward(),
            lambda: conformal_regularizer(model.embedding, coords, pattern, n_mc, torch.Generator()).backward()),
        "Adam step": (adam["reference"].step, adam["fused"].step),
    }
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    rows = []
    for name, (ref, new) in cases.items():
        if model.embedding is None and name.startswith("regularizer"):
            continue
        times = []
        for fn in (ref, new, ref, new):  # interleaved, best of two
            start = time.perf_counter()
            for _ in range(repeats):
                fn()
            times.append((time.perf_counter() - start) / repeats)
        rows.append((name, 1e3 * min(times[0], times[2]), 1e3 * min(times[1], times[3])))
    model.zero_grad(set_to_none=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = Config()
    cfg.model.case = args.case
    dataset = load_or_generate_dataset(cfg)
    loss_diff, weight_diff = agreement(cfg, dataset)
    fused, _ = trainer_for_dataset(cfg, dataset)
    reference = ReferenceTrainer(cfg, fused.sequences, fused.labels)
    for trainer in (reference, fused):
        trainer.fit(args.warmup)
    n = len(fused.labels)
    print(f"training speed: {cfg.model.case}, {n} samples, batch {cfg.train.batch_size}, n_MC {cfg.train.n_mc}, "
          f"{torch.get_num_threads()} torch threads, blocks of {args.epochs} epochs")
    ratios, times = [], {"reference": [], "fused": []}
    for block in range(args.blocks):
        t_ref, t_new = timed(reference, args.epochs), timed(fused, args.epochs)
        times["reference"].append(t_ref)
        times["fused"].append(t_new)
        ratios.append(t_ref / t_new)
        print(f"  block {block + 1}: reference {1e3 * t_ref:6.1f} ms/epoch, fused {1e3 * t_new:6.1f} ms/epoch, "
              f"ratio {t_ref / t_new:.2f}", flush=True)
    ref, new = statistics.median(times["reference"]), statistics.median(times["fused"])
    print(f"median: reference {1e3 * ref:.1f} ms/epoch, fused {1e3 * new:.1f} ms/epoch; "
          f"ratio {statistics.median(ratios):.2f} (blocks {min(ratios):.2f}-{max(ratios):.2f})")
    print(f"at this speed {cfg.train.epochs} epochs take {cfg.train.epochs * ref:.0f} s (reference) and "
          f"{cfg.train.epochs * new:.0f} s (fused)")
    print("parts of one training step (batch of the default size, best of two interleaved runs):")
    for name, ref_ms, new_ms in parts(fused, max(5, args.epochs)):
        print(f"  {name:<32} reference {ref_ms:6.2f} ms, fused {new_ms:6.2f} ms, ratio {ref_ms / new_ms:.2f}")
    print(f"same computation: first-epoch loss terms agree to {loss_diff:.1e} (relative), "
          f"weights after it to {weight_diff:.1e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
