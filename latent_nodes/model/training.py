"""Training of the three Table I cases with the paper's full loss.

    L = 1/(N T) sum_i sum_t || x_i^t - f_theta^t(m_{p_i}(xi_i)) ||^2  +  lambda * L_perp

minimized with Adam over mini-batches that mix both behaviours. Weights theta, embedding parameters
mu and every sample's coordinates are learned jointly. The case switch (``ModelConfig.case``) decides
whether the coordinates are free latents z_i (no-embedding) or local coordinates xi_i embedded by
m_p, and whether lambda * L_perp is added (only in ``embedding+regularization``; in ``embedding`` it
is still measured, without gradient, so the runs can be compared).

Everything random (initialization, batch order, the regularizer's draws) comes from the seed, and
``state_dict`` captures all of it, so a resumed run ends where an uninterrupted one would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from latent_nodes.config import CASE_REGULARIZED, Config
from latent_nodes.inference.domain import Domain
from latent_nodes.model.checkpoint import Checkpoint
from latent_nodes.model.latent_model import LatentModel
from latent_nodes.model.normalization import Normalizer
from latent_nodes.model.regularizer import conformal_regularizer


def reconstruction_error(pred, target):
    """The paper's Eq. (1) per sample: (1/T) sum_t ||x^t - x_hat^t||^2 (squared norm over outputs).

    Works on torch tensors and numpy arrays alike ([..., T, O] -> [...]), so the training loss, the
    evaluation and the reference baselines all measure the same thing.
    """
    return ((pred - target) ** 2).sum(-1).mean(-1)


@dataclass
class EpochRecord:
    """One row of the training log: every loss term, averaged over the epoch's mini-batches."""

    epoch: int
    loss: float
    reconstruction: float
    regularizer: float

    def to_dict(self) -> dict[str, float]:
        return {"epoch": self.epoch, "loss": self.loss, "reconstruction": self.reconstruction,
                "regularizer": self.regularizer}


@dataclass
class Trainer:
    """Holds model, optimizer and random streams; ``run_epoch`` advances training by one pass."""

    cfg: Config
    sequences: torch.Tensor  # [N, T, O] normalized training sequences
    labels: torch.Tensor  # [N] behaviour index per sample
    model: LatentModel = field(init=False)
    optimizer: torch.optim.Optimizer = field(init=False)
    epoch: int = field(init=False, default=0)
    history: list[dict] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        device = torch.device(self.cfg.train.device)
        self.sequences = torch.as_tensor(self.sequences, dtype=torch.float32, device=device)
        self.labels = torch.as_tensor(self.labels, dtype=torch.long, device=device)
        n, t, o = self.sequences.shape
        mc = self.cfg.model
        if (t, o) != (mc.seq_len, mc.output_dim):
            raise ValueError(f"training sequences are [N, {t}, {o}] but the model expects "
                             f"[N, {mc.seq_len}, {mc.output_dim}] (seq_len, output_dim)")
        if n == 0:
            raise ValueError("no training sequences")
        if int(self.labels.max()) >= mc.n_patterns or int(self.labels.min()) < 0:
            raise ValueError(f"behaviour labels must lie in [0, {mc.n_patterns}), got {self.labels.unique().tolist()}")
        seed = int(self.cfg.train.seed)
        with torch.random.fork_rng(devices=[]):  # seed the initialization without touching global state
            torch.manual_seed(seed)
            self.model = LatentModel(mc, self.labels.cpu()).to(device)
        # fused: one kernel per parameter instead of a dozen small operations (the same update, rounded
        # differently); this model's step is bound by the number of operations, not their size.
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.cfg.train.lr, fused=True)
        # Separate streams, so that changing the batch size does not change the regularizer's draws.
        self.batch_gen = torch.Generator().manual_seed(seed + 1)
        self.reg_gen = torch.Generator(device=device).manual_seed(seed + 2)

    @property
    def regularized(self) -> bool:
        return self.cfg.model.case == CASE_REGULARIZED

    def losses(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Reconstruction term and L_perp for the samples in ``index`` (L_perp = 0 without embedding)."""
        model = self.model
        recon = reconstruction_error(model(index), self.sequences[index]).mean()
        if model.embedding is None:
            return recon, torch.zeros((), device=recon.device)
        xi, pattern = model.coords[index], model.sample_patterns[index]
        if self.regularized:
            reg = conformal_regularizer(model.embedding, xi, pattern, self.cfg.train.n_mc, self.reg_gen)
        else:  # measured for the record only: no gradient, and no draw from the training streams
            with torch.no_grad():
                g = torch.Generator(device=xi.device).manual_seed(self.epoch)
                reg = conformal_regularizer(model.embedding, xi.detach(), pattern, self.cfg.train.n_mc, g)
        return recon, reg

    def run_epoch(self) -> EpochRecord:
        """One pass over the training set in shuffled mini-batches; returns the epoch's averaged terms."""
        n = self.sequences.shape[0]
        bs = max(1, min(int(self.cfg.train.batch_size), n))
        order = torch.randperm(n, generator=self.batch_gen).to(self.sequences.device)
        lam = float(self.cfg.train.reg_weight) if self.regularized else 0.0
        for group in self.optimizer.param_groups:
            group["lr"] = self.learning_rate(self.epoch)
        clip = float(self.cfg.train.grad_clip)
        sums = np.zeros(3)
        for start in range(0, n, bs):
            index = order[start:start + bs]
            recon, reg = self.losses(index)
            loss = recon + lam * reg
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if clip > 0:  # rare large gradients of the recurrent net otherwise undo many epochs of progress
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip)
            self.optimizer.step()
            sums += len(index) * np.array([loss.item(), recon.item(), reg.item()])
        self.epoch += 1
        mean = sums / n
        if not math.isfinite(mean[0]):
            raise FloatingPointError(f"training diverged at epoch {self.epoch}: loss = {mean[0]}; lower the lr")
        record = EpochRecord(self.epoch, float(mean[0]), float(mean[1]), float(mean[2]))
        self.history.append(record.to_dict())
        return record

    def learning_rate(self, epoch: int) -> float:
        """Cosine decay from lr to lr * lr_final over the configured epochs: large early steps explore,
        small late steps settle the reconstruction error well below what a constant rate reaches.
        """
        tc = self.cfg.train
        progress = min(1.0, epoch / max(1, int(tc.epochs) - 1))
        return float(tc.lr) * (tc.lr_final + (1 - tc.lr_final) * 0.5 * (1 + math.cos(math.pi * progress)))

    def fit(self, epochs: int | None = None, callback=None) -> list[dict]:
        """Run until ``epochs`` (default cfg.train.epochs) epochs are done; ``callback(record)`` after each."""
        total = int(self.cfg.train.epochs if epochs is None else epochs)
        while self.epoch < total:
            record = self.run_epoch()
            if callback is not None:
                callback(record)
        return self.history

    def state_dict(self) -> dict:
        """Everything a resumed run needs to continue bit for bit."""
        return {"epoch": self.epoch, "history": list(self.history), "optimizer": self.optimizer.state_dict(),
                "batch_gen": self.batch_gen.get_state(), "reg_gen": self.reg_gen.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.epoch = int(state["epoch"])
        self.history = list(state["history"])
        self.optimizer.load_state_dict(state["optimizer"])
        # Generator states are CPU byte tensors even for a CUDA generator; loading may have moved them.
        self.batch_gen.set_state(state["batch_gen"].cpu())
        self.reg_gen.set_state(state["reg_gen"].cpu())


def trainer_for_dataset(cfg: Config, dataset) -> tuple[Trainer, Normalizer]:
    """Fit the normalization on the dataset's training split and build a Trainer on it.

    Only training samples are seen: test positions never enter the statistics or the loss.
    """
    train = dataset.train()
    if len(train.labels) == 0:
        raise ValueError("the dataset has no training samples")
    names = list(dataset.behaviour_names)
    if len(names) != cfg.model.n_patterns:
        cfg.model.n_patterns = len(names)
    # The robot's joint count comes from the data (joints, then block x, y), not from the embedded arm.
    n_joints = len(dataset.joint_names)
    cfg.model.output_dim = n_joints + 2
    cfg.model.perception_dims = [n_joints, n_joints + 1]
    normalizer = Normalizer.fit(train.sequences)
    sequences = normalizer.normalize(train.sequences).astype(np.float32)
    return Trainer(cfg, sequences, np.asarray(train.labels)), normalizer


def to_checkpoint(trainer: Trainer, normalizer: Normalizer, dataset, metrics: dict | None = None,
                  with_train_state: bool = True) -> Checkpoint:
    """Package a trainer's model with everything deployment needs (and, optionally, its resume state)."""
    train = dataset.train()
    block_xy = np.asarray(train.block_xy, dtype=np.float64)
    domain = Domain.from_samples(block_xy, trainer.labels.cpu().numpy(), trainer.model.coords.detach().cpu().numpy())
    return Checkpoint(model=trainer.model, config=trainer.cfg, normalizer=normalizer,
                      behaviour_names=list(dataset.behaviour_names), joint_names=list(dataset.joint_names),
                      dt=float(dataset.dt), sample_block_xy=block_xy, domain=domain,
                      metrics=dict(metrics or {}), train_state=trainer.state_dict() if with_train_state else None)
