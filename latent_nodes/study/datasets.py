"""The study's dataset variants: generated once into a cache keyed by their configuration's hash.

A variant is a full DataConfig (with the base's SimConfig). Its key is a hash of everything that
decides the generated arrays, so two studies, or two variants that happen to agree, share one file,
and changing any knob makes a new one. A variant may instead name an existing file
(``dataset_path``); its key is then the hash of the file's bytes. Files are written atomically by
``save_dataset``: an interrupted generation leaves no half file behind to be taken for a finished one.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from latent_nodes.study.content_hash import content_hash
from latent_nodes.study.plan import identity_data


def dataset_key(data_cfg: dict, sim_cfg: dict) -> str:
    """The cache key of a variant: its data and sim settings, or the bytes of the file it names."""
    if data_cfg.get("dataset_path"):
        path = Path(data_cfg["dataset_path"])
        if not path.is_file():
            raise FileNotFoundError(f"dataset file {path} does not exist")
        return "file-" + hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    from latent_nodes.data.dataset import FORMAT_VERSION

    settings = {k: v for k, v in identity_data(data_cfg).items() if k != "dataset_path"}
    return "sim-" + content_hash({"data": settings, "sim": sim_cfg, "format_version": FORMAT_VERSION})


def dataset_file(cache_dir: Path, data_cfg: dict, key: str) -> Path:
    """Where a variant's dataset lives: its own file, or ``<cache>/<key>.npz``."""
    return Path(data_cfg["dataset_path"]) if data_cfg.get("dataset_path") else Path(cache_dir) / f"{key}.npz"


def generate_variant(data_cfg: dict, sim_cfg: dict):
    """Simulate a variant's demonstrations (the caller saves them); runs in a worker process."""
    from latent_nodes.config import DataConfig, SimConfig
    from latent_nodes.sim.demonstrations import generate_dataset

    return generate_dataset(DataConfig(**data_cfg), SimConfig(**sim_cfg))
