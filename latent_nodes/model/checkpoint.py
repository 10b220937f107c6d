"""The model file: weights, config, normalization, names and format version in one torch file.

Everything is stored as tensors and plain Python values so that ``torch.load(weights_only=True)`` can
read it: loading a model never executes pickled code. Files are written atomically. Any problem on
load (missing, truncated, not a latent_nodes model, another format version, a config that does not fit
the weights) is a single ``CheckpointError`` naming the file and what is wrong.
"""

from __future__ import annotations

import math
import pickle
import re
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from latent_nodes.atomic import atomic_path
from latent_nodes.config import Config, ConfigError, show
from latent_nodes.inference.domain import Domain
from latent_nodes.model.latent_model import LatentModel
from latent_nodes.model.normalization import Normalizer

FORMAT = "latent_nodes.model"
FORMAT_VERSION = 1


# What every model file holds; without any of these it cannot be used.
REQUIRED = ("config", "state_dict", "normalization", "behaviour_names", "joint_names", "dt")


class CheckpointError(ValueError):
    """A model file that cannot be used; the message names the file and the reason."""


class ModelFileWarning(UserWarning):
    """A model file that loads but lacks something newer files record (e.g. its domain)."""
def _names(keys: list[str], limit: int = 3) -> str:
    """A few names and how many more, so a long list stays one readable line."""
    shown = ", ".join(keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def state_dict_mismatch(expected: dict, given: dict) -> str | None:
    """One line saying how ``given`` (a file's weights) differs from ``expected`` (the model its config builds).

    torch's own message starts with a line that says only "Error(s) in loading state_dict"; this names
    missing, unexpected and mis-sized entries (a few of each) instead.
    """
    missing = [k for k in expected if k not in given]
    unexpected = [k for k in given if k not in expected]
    sized = [f"{k} {list(given[k].shape)} (config: {list(expected[k].shape)})" for k in expected
             if k in given and isinstance(given[k], torch.Tensor) and given[k].shape != expected[k].shape]
    not_tensors = [k for k in expected if k in given and not isinstance(given[k], torch.Tensor)]
    parts = [f"{label} {_names(keys)}" for label, keys in (("missing", missing), ("unexpected", unexpected),
                                                             ("wrong size", sized), ("not a tensor", not_tensors))
             if keys]
    return "; ".join(parts) or None


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
    domain: Domain | None = None  # training positions and coordinates per behaviour (latent_nodes.inference.domain)
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
    if path.is_dir():
        raise CheckpointError(f"model file {path} is a directory, not a model file")
    if not path.is_file():
        raise CheckpointError(f"model file {path} does not exist")
    try:
        with warnings.catch_warnings():  # torch warns about a foreign pickle's protocol before refusing it
            warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
            data = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's message goes on to suggest weights_only=False, i.e. letting the file run code: never
        # repeated. Say what the file is instead.
        code = re.search(r"GLOBAL (\S+)", str(exc))
        if code:
            raise CheckpointError(f"model file {path} is not a loadable latent_nodes model: it asks to import "
                                  f"{code.group(1)}, and loading a model never imports or runs code") from None
        raise CheckpointError(f"model file {path} is not a loadable latent_nodes model (corrupt or truncated, or "
                              f"another kind of file: its data is not tensors and plain values)") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError) as exc:
        raise CheckpointError(f"model file {path} is corrupt or truncated ({_first_line(exc)})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"model file {path} is not a latent_nodes model")
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(f"model file {path} has format version {version}; this code reads "
                              f"version {FORMAT_VERSION} (retrain or use a matching latent_nodes release)")
    _check_entries(path, data)
    try:
        config = Config.from_dict(data["config"])
    except ConfigError as exc:
        raise CheckpointError(f"model file {path} holds invalid settings: {exc}") from None
    try:
        normalizer = Normalizer.from_dict(data["normalization"])
        state = data["state_dict"]
        model = LatentModel(config.model, state.get("sample_patterns", torch.zeros(0, dtype=torch.long)))
        mismatch = state_dict_mismatch(model.state_dict(), state)
        if mismatch:
            raise CheckpointError(f"model file {path} does not fit its own settings: {mismatch}")
        bad = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
        if bad:
            raise CheckpointError(f"model file {path} has NaN or infinite weights in {_names(bad)}")
        model.load_state_dict(state)
    except CheckpointError:
        raise
    except (KeyError, ValueError, RuntimeError, TypeError) as exc:
        raise CheckpointError(f"model file {path} is incompatible: {_first_line(exc)}") from None
    if normalizer.dim != config.model.output_dim:
        raise CheckpointError(f"model file {path} is incompatible: normalization has {normalizer.dim} "
                              f"dimensions, the model outputs {config.model.output_dim}")
    model.to(device).eval()
    xy = data.get("sample_block_xy")
    if xy is not None and not bool(torch.isfinite(torch.as_tensor(xy)).all()):
        raise CheckpointError(f"model file {path} has NaN or infinite training block positions")
    xy = None if xy is None else xy.cpu().numpy()
    return Checkpoint(model=model, config=config, normalizer=normalizer,
                      behaviour_names=list(data["behaviour_names"]), joint_names=list(data["joint_names"]),
                      dt=float(data["dt"]), sample_block_xy=xy, domain=_domain(path, data, model, xy),
                      metrics=dict(data.get("metrics") or {}), train_state=data.get("train_state"))


def _domain(path: Path, data: dict, model: LatentModel, sample_block_xy: np.ndarray | None) -> Domain | None:
    """The recorded domain; for older files, derived from the training samples they hold, with a warning."""
    if data.get("domain") is not None:
        try:
            domain = Domain.from_payload(data["domain"])
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise CheckpointError(f"model file {path} has an unreadable domain record ({exc})") from None
        dims = {c.shape[1] for c in domain.coords.values()}
        patterns = set(domain.coords)
        if dims != {model.coord_dim} or not patterns <= set(range(model.cfg.n_patterns)):
            raise CheckpointError(f"model file {path} has a domain record that does not fit the model "
                                  f"(coordinates of {sorted(dims)} dims for behaviours {sorted(patterns)}; the model "
                                  f"has {model.coord_dim} dims and {model.cfg.n_patterns} behaviours)")
        return domain
    coords = model.coords.detach().cpu().numpy()
    if sample_block_xy is not None and len(sample_block_xy) == len(coords):
        warnings.warn(f"model file {path} records no domain (an older file); using the block positions and "
                      f"coordinates of its {len(coords)} training samples instead", ModelFileWarning, stacklevel=3)
        return Domain.from_samples(sample_block_xy, model.sample_patterns.cpu().numpy(), coords)
    warnings.warn(f"model file {path} records no domain and no training positions: out-of-domain poses "
                  f"cannot be recognized (retrain with this version to record them)", ModelFileWarning, stacklevel=3)
    return None
def _first_line(exc: BaseException) -> str:
    """An exception's first line (its type if it has no text); never torch's advice on unsafe loading."""
    lines = [line for line in str(exc).splitlines() if line.strip() and "weights_only" not in line]
    return lines[0].strip() if lines else type(exc).__name__


def _check_entries(path: Path, data: dict) -> None:
    """The entries every model file needs, of the kinds they must be; ``CheckpointError`` otherwise."""
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise CheckpointError(f"model file {path} lacks the entries {_names(missing)} (damaged, or not written "
                              f"by latent_nodes)")
    dt = data["dt"]
    if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not math.isfinite(dt) or dt <= 0:
        raise CheckpointError(f"model file {path} has dt = {show(dt)}: expected a positive number of seconds")
    if not isinstance(data["state_dict"], dict):
        raise CheckpointError(f"model file {path} has no weights (state_dict is a {type(data['state_dict']).__name__})")
    for key in ("behaviour_names", "joint_names"):
        names = data[key]
        if not isinstance(names, (list, tuple)) or not names or not all(isinstance(n, str) for n in names):
            raise CheckpointError(f"model file {path} has {key} = {show(names)}: expected a list of names")
