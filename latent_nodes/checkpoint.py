"""The model file: weights, config, normalization, names and format version in one torch file.

Everything is stored as tensors and plain Python values so that ``torch.load(weights_only=True)`` can
read it: loading a model never executes pickled code. Files are written atomically. Any problem on
load (missing, truncated, not a latent_nodes model, another format version, a config that does not fit
the weights) is a single ``CheckpointError`` naming the file and what is wrong.
"""

from __future__ import annotations

import pickle
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from latent_nodes.atomic import atomic_path
from latent_nodes.config import Config
from latent_nodes.domain import Domain
from latent_nodes.latent_model import LatentModel
from latent_nodes.normalization import Normalizer

FORMAT = "latent_nodes.model"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A model file that cannot be used; the message names the file and the reason."""


class ModelFileWarning(UserWarning):
    """A model file that loads but lacks something newer files record (e.g. its domain)."""


@dataclass
class Checkpoint:
    """A loaded (or to-be-saved) model with everything needed to use it outside training."""

    model: LatentModel
    config: Config
    normalizer: Normalizer
    behaviour_names: list[str]
    joint_names: list[str]
    dt: float
    sample_block_xy: np.ndarray | None = None  # [N, 2] block position of each training sample (Fig. 4)
    domain: Domain | None = None  # training positions and coordinates per behaviour (latent_nodes.domain)
    metrics: dict = field(default_factory=dict)
    train_state: dict | None = None  # optimizer and random streams, for --resume


def save_checkpoint(path: str | Path, ckpt: Checkpoint) -> None:
    """Write ``ckpt`` to ``path`` atomically (the old file survives any failure)."""
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": ckpt.config.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in ckpt.model.state_dict().items()},
        "normalization": ckpt.normalizer.to_dict(),
        "behaviour_names": list(ckpt.behaviour_names),
        "joint_names": list(ckpt.joint_names),
        "dt": float(ckpt.dt),
        "sample_block_xy": None if ckpt.sample_block_xy is None else torch.as_tensor(ckpt.sample_block_xy),
        "domain": None if ckpt.domain is None else ckpt.domain.to_payload(),
        "metrics": ckpt.metrics,
        "train_state": ckpt.train_state,
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
        # Read it back the way every user will, so a value that weights_only refuses (an arbitrary
        # object in metrics, say) fails here, before it replaces a good file, not at the next load.
        try:
            torch.load(tmp, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - re-raised with the file and reason
            raise CheckpointError(f"refusing to write {path}: it would not load with weights_only=True "
                                  f"({str(exc).splitlines()[0]})") from exc


def load_checkpoint(path: str | Path, device: str = "cpu") -> Checkpoint:
    """Read a model file; raises ``CheckpointError`` with one clear message if it is unusable."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"model file {path} does not exist")
    try:
        data = torch.load(path, map_location=device, weights_only=True)
    except (RuntimeError, EOFError, zipfile.BadZipFile, pickle.UnpicklingError, OSError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f"model file {path} is corrupt or truncated ({reason})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"model file {path} is not a latent_nodes model")
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(f"model file {path} has format version {version}; this code reads "
                              f"version {FORMAT_VERSION} (retrain or use a matching latent_nodes release)")
    try:
        config = Config.from_dict(data["config"])
        normalizer = Normalizer.from_dict(data["normalization"])
        state = data["state_dict"]
        model = LatentModel(config.model, state["sample_patterns"])
        model.load_state_dict(state)
    except (KeyError, ValueError, RuntimeError, TypeError) as exc:
        reason = str(exc).splitlines()[0]
        raise CheckpointError(f"model file {path} is incompatible: {reason}") from None
    if normalizer.dim != config.model.output_dim:
        raise CheckpointError(f"model file {path} is incompatible: normalization has {normalizer.dim} "
                              f"dimensions, the model outputs {config.model.output_dim}")
    model.to(device).eval()
    xy = data.get("sample_block_xy")
    xy = None if xy is None else xy.cpu().numpy()
    return Checkpoint(model=model, config=config, normalizer=normalizer,
                      behaviour_names=list(data["behaviour_names"]), joint_names=list(data["joint_names"]),
                      dt=float(data["dt"]), sample_block_xy=xy, domain=_domain(path, data, model, xy),
                      metrics=dict(data.get("metrics") or {}), train_state=data.get("train_state"))


def _domain(path: Path, data: dict, model: LatentModel, sample_block_xy: np.ndarray | None) -> Domain | None:
    """The recorded domain; for older files, derived from the training samples they hold, with a warning."""
    if data.get("domain") is not None:
        try:
            return Domain.from_payload(data["domain"])
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise CheckpointError(f"model file {path} has an unreadable domain record ({exc})") from None
    coords = model.coords.detach().cpu().numpy()
    if sample_block_xy is not None and len(sample_block_xy) == len(coords):
        warnings.warn(f"model file {path} records no domain (an older file); using the block positions and "
                      f"coordinates of its {len(coords)} training samples instead", ModelFileWarning, stacklevel=3)
        return Domain.from_samples(sample_block_xy, model.sample_patterns.cpu().numpy(), coords)
    warnings.warn(f"model file {path} records no domain and no training positions: out-of-domain poses "
                  f"cannot be recognized (retrain with this version to record them)", ModelFileWarning, stacklevel=3)
    return None
