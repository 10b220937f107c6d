"""The plan of a study: every (dataset variant, arm, seed) run, its identity and its file.

A run's identity is a hash of what decides its result (the model, train and data sections of its
config with the seed, the dataset's key, the inference methods), so its file name changes when the
spec changes what the run would compute, and a resumed study never takes a stale result for a current
one. Per-run metric hooks are not part of it: they are computed later from the stored model when a spec
adds one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from latent_nodes.study.content_hash import content_hash
from latent_nodes.study.spec import StudySpec, merge


@dataclass(frozen=True)
class RunJob:
    """One training + evaluation: everything a worker needs except the dataset itself."""

    id: str
    dataset: str  # variant name
    dataset_key: str
    arm: str
    seed: int
    config: dict  # full Config dict: the arm's, with the variant's data section and the seed
    inference: tuple[tuple[str, dict], ...]  # (method name, InferenceConfig dict)
    metrics: tuple[str, ...]


# What a run's result depends on, besides its dataset's key and its inference methods. The nodes and sim
# sections do not enter (the sim's settings are in the dataset's key), so adding a ROS parameter renames
# no finished run.
RESULT_SECTIONS = ("model", "train", "data")

# Settings added after studies had run, with the value that reproduces what ran before: left out of a
# run's identity and a dataset's key at that value, so finished runs keep their names.
LATER_DEFAULTS = {"data": {"train_layout": "grid"}, "inference": {"backend": "torch"}}


def _without_later(section: str, values: dict) -> dict:
    later = LATER_DEFAULTS.get(section, {})
    return {k: v for k, v in values.items() if not (k in later and v == later[k])}


def identity_data(data_cfg: dict) -> dict:
    """A DataConfig dict without the later settings that sit at their earlier behaviour."""
    return _without_later("data", data_cfg)


def run_identity(config: dict, dataset_key: str, inference: tuple[tuple[str, dict], ...]) -> str:
    """The hash in a run's name: the config sections that decide its result, its data, its inference methods."""
    sections = {name: _without_later(name, config[name]) for name in RESULT_SECTIONS}
    methods = [[name, _without_later("inference", cfg)] for name, cfg in inference]
    return content_hash({"config": sections, "dataset": dataset_key, "inference": methods})


def plan_runs(spec: StudySpec, dataset_keys: dict[str, str]) -> list[RunJob]:
    """All runs, seed by seed, so an interrupted study has every arm at its first seeds."""
    jobs = []
    inference = tuple((m.name, m.config) for m in spec.inference)
    for seed in spec.seeds:
        for ds_name, data_cfg in spec.datasets.items():
            for arm in spec.arms:
                config = merge(arm.config, {"data": data_cfg, "train": {"seed": seed}})
                run_id = f"{ds_name}__{arm.name}__seed{seed}__{run_identity(config, dataset_keys[ds_name], inference)}"
                jobs.append(RunJob(run_id, ds_name, dataset_keys[ds_name], arm.name, seed, config, inference,
                                   tuple(spec.metrics)))
    return jobs


def run_file(out: Path, job: RunJob) -> Path:
    return Path(out) / "runs" / f"{job.id}.json"


def model_file(out: Path, job: RunJob) -> Path:
    return Path(out) / "models" / f"{job.id}.pt"


def baseline_file(out: Path, ds_name: str, key: str) -> Path:
    return Path(out) / "baselines" / f"{ds_name}__{key}.json"


def test_set_baseline_file(out: Path, ds_name: str, test_set: str, key: str) -> Path:
    return Path(out) / "baselines" / f"{ds_name}__{test_set}__{key}.json"
