"""The study spec: one YAML file that names everything a study runs.

A study is the product (dataset variant) x (arm) x (seed), where an arm is one of the paper's Table I
cases or a named ablation (config overrides around the base). Every run is evaluated with every
inference method. The spec is checked in full before anything runs, so a typo is one error line
naming the key, never a silent default or a failure an hour into the study.

    name: table1                        # names the study in its report
    seeds: 10                           # a count (0..9) or a list of seeds
    base:                               # overrides of latent_nodes.config.Config, by section
      train: {epochs: 4000}
    cases: [no-embedding, embedding, embedding+regularization]
    ablations:                          # named overrides over base (model.case defaults to the base's)
      lambda_0: {train: {reg_weight: 0.0}}
    datasets:                           # named DataConfig overrides over base.data; default {default: {}}
      default: {}
    inference:                          # InferenceConfig overrides, one per method; name optional
      - {method: gauss-newton, steps: 30}
      - {method: adam, steps: 100}
    failure_threshold: 0.002            # a run "fails" on a behaviour when its error exceeds this
    test_sets:                          # extra evaluation columns on the same models (study/test_sets.py)
      random_inside: {positions: random, count: 16, seed: 1}
      prefix_3: {observed_steps: 3}
    reference_arm: embedding+regularization   # compared with every other arm (Mann-Whitney U)
    baselines: true                     # the reference rows of latent_nodes.baselines, once per dataset
    metrics: []                         # per-run metric hooks (latent_nodes.study.metrics.RUN_METRICS)
    bootstrap: {resamples: 10000, seed: 0}
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from latent_nodes.config import (
    CASE_REGULARIZED,
    CASES,
    Config,
    ConfigError,
    DataConfig,
    InferenceConfig,
    section_from_dict,
)
from latent_nodes.study.test_sets import POSITIONS, TestSet

# A run is "failed" on a behaviour when its error exceeds this (normalized units): 7-9x the regularized
# model's test error on the default dataset (0.00023 / 0.00028, seeds within 0.00001 / 0.00003 of it,
# docs/results.md), so good seeds stay far below it while a folded chart or a lost inference lands above.
DEFAULT_FAILURE_THRESHOLD = 0.002

TOP_KEYS = ("name", "seeds", "base", "cases", "ablations", "datasets", "inference", "test_sets",
            "failure_threshold", "reference_arm", "baselines", "metrics", "bootstrap")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")  # names become file names


class SpecError(ValueError):
    """A spec that cannot be run; the message is one line naming the file and the offending key."""


@dataclass(frozen=True)
class Arm:
    """One trained variant: a Table I case, or a named ablation; ``config`` is the full Config dict."""

    name: str
    config: dict


@dataclass(frozen=True)
class InferenceMethod:
    """One way of inferring the latent at test time, with its name in the tables."""

    name: str
    config: dict  # InferenceConfig fields


@dataclass
class StudySpec:
    """A validated spec: everything expanded to full configs, nothing left to defaults elsewhere."""

    name: str
    seeds: list[int]
    arms: list[Arm]
    datasets: dict[str, dict]  # name -> full DataConfig dict
    inference: list[InferenceMethod]
    failure_threshold: float = DEFAULT_FAILURE_THRESHOLD
    reference_arm: str | None = CASE_REGULARIZED
    baselines: bool = True
    metrics: list[str] = field(default_factory=list)
    bootstrap_resamples: int = 10000
    bootstrap_seed: int = 0
    base: dict = field(default_factory=dict)  # the base Config dict the arms were built from
    source: str = ""
    test_sets: list[TestSet] = field(default_factory=list)  # extra evaluation columns (study/test_sets.py)


def _type_name(value: Any) -> str:
    return type(value).__name__


def _check_section(where: str, section_cls: type, values: Any) -> dict:
    """One config section's overrides, checked by the schema's own rules (``config.section_from_dict``).

    Returns the overrides normalized as the schema normalizes them (an int in a float field a float).
    """
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise SpecError(f"{where}: expected a mapping of {section_cls.__name__} keys, got {_type_name(values)}")
    try:
        section = section_from_dict(section_cls, values, f"{where}.")
    except ConfigError as exc:
        raise SpecError(str(exc)) from None
    return {key: getattr(section, key) for key in values}


def _check_config(where: str, values: Any) -> dict:
    """Overrides of a whole Config (sections as keys), checked section by section."""
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise SpecError(f"{where}: expected a mapping of config sections, got {_type_name(values)}")
    sections = {f.name: f.default_factory for f in dataclasses.fields(Config)}
    out = {}
    for name, section in values.items():
        if name not in sections:
            raise SpecError(f"{where}: unknown config section {name!r}; known: {sorted(sections)}")
        out[name] = _check_section(f"{where}.{name}", sections[name], section)
    return out


def merge(base: dict, overrides: dict) -> dict:
    """A copy of a nested Config dict with section overrides applied key by key."""
    out = copy.deepcopy(base)
    for section, values in overrides.items():
        out.setdefault(section, {}).update(copy.deepcopy(values))
    return out


def _check_name(where: str, name: Any) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise SpecError(f"{where}: name {name!r} must be letters, digits, '_', '.', '+' or '-'")
    return name


def _seeds(value: Any) -> list[int]:
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise SpecError(f"seeds: a count must be >= 1, got {value}")
        return list(range(value))
    if isinstance(value, list) and value and all(isinstance(s, int) and not isinstance(s, bool) for s in value):
        if len(set(value)) != len(value):
            raise SpecError(f"seeds: repeated seeds in {value}")
        return list(value)
    raise SpecError(f"seeds: expected a count or a non-empty list of integers, got {value!r}")


def _full_config(where: str, overrides: dict) -> dict:
    """Build the Config to let its own checks (e.g. a later schema rule) speak before any run starts."""
    try:
        return Config.from_dict(overrides).to_dict()
    except (TypeError, ValueError) as exc:
        raise SpecError(f"{where}: {exc}") from None


def _inference(value: Any) -> list[InferenceMethod]:
    if value is None:
        value = [{}]
    if not isinstance(value, list) or not value:
        raise SpecError(f"inference: expected a non-empty list of InferenceConfig overrides, got {value!r}")
    methods: list[InferenceMethod] = []
    for i, item in enumerate(value):
        where = f"inference[{i}]"
        if not isinstance(item, dict):
            raise SpecError(f"{where}: expected a mapping, got {_type_name(item)}")
        item = dict(item)
        name = item.pop("name", None)
        cfg = dataclasses.asdict(InferenceConfig(**_check_section(where, InferenceConfig, item)))
        name = _check_name(where, name if name is not None else f"{cfg['method']}-{cfg['steps']}")
        if any(m.name == name for m in methods):
            raise SpecError(f"{where}: inference method name {name!r} used twice")
        methods.append(InferenceMethod(name, cfg))
    return methods


def _integer(where: str, value: Any, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        rule = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise SpecError(f"{where}: expected an integer {rule}, got {value!r}")
    return value


def _test_sets(value: Any, methods: list[InferenceMethod], seq_len: int) -> list[TestSet]:
    """Extra evaluation columns: name -> {positions, count, seed, inner, outer, observed_steps, inference}."""
    if value is None:
        return []
    if not isinstance(value, dict):
        raise SpecError(f"test_sets: expected a mapping of name -> settings, got {_type_name(value)}")
    known = [f.name for f in dataclasses.fields(TestSet) if f.name != "name"]
    names = [m.name for m in methods]
    out = []
    for name, settings in value.items():
        where = f"test_sets.{_check_name('test_sets', name)}"
        settings = {} if settings is None else settings
        if not isinstance(settings, dict):
            raise SpecError(f"{where}: expected a mapping of {known}, got {_type_name(settings)}")
        for key in settings:
            if key not in known:
                raise SpecError(f"{where}: unknown key {key!r}; known: {known}")
        kw = dict(settings)
        if kw.get("positions", "test") not in POSITIONS:
            raise SpecError(f"{where}.positions: {kw['positions']!r} is not one of {list(POSITIONS)}")
        for key, low, high in (("count", 1, None), ("seed", 0, None), ("observed_steps", 0, seq_len - 1)):
            if key in kw:
                kw[key] = _integer(f"{where}.{key}", kw[key], low, high)
        for key in ("inner", "outer"):
            if key in kw:
                v = kw[key]
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                    raise SpecError(f"{where}.{key}: expected a distance >= 0 in metres, got {v!r}")
                kw[key] = float(v)
        inference = kw.pop("inference", names)
        if not isinstance(inference, list) or not inference or any(m not in names for m in inference):
            raise SpecError(f"{where}.inference: expected a non-empty list of the spec's methods {names}, "
                            f"got {inference!r}")
        ts = TestSet(name=name, inference=tuple(inference), **kw)
        if not ts.inner < ts.outer:
            raise SpecError(f"{where}: expected inner < outer, got {ts.inner} and {ts.outer}")
        out.append(ts)
    return out


def parse_spec(data: Any, source: str = "<spec>") -> StudySpec:
    """Validate a loaded YAML document and expand it; raises SpecError with one line."""
    try:
        return _parse(data, source)
    except SpecError as exc:
        raise SpecError(f"{source}: {exc}") from None


def _parse(data: Any, source: str) -> StudySpec:
    if not isinstance(data, dict):
        raise SpecError(f"a spec is a mapping of keys {list(TOP_KEYS)}, got {_type_name(data)}")
    unknown = [k for k in data if k not in TOP_KEYS]
    if unknown:
        raise SpecError(f"unknown key {unknown[0]!r}; known: {list(TOP_KEYS)}")
    if "name" not in data:
        raise SpecError("missing key 'name'")
    name = _check_name("name", data["name"])
    seeds = _seeds(data.get("seeds", 1))
    base_overrides = _check_config("base", data.get("base"))
    base = _full_config("base", base_overrides)

    cases = data.get("cases", [] if data.get("ablations") else list(CASES))
    if not isinstance(cases, list) or any(c not in CASES for c in cases):
        raise SpecError(f"cases: expected a list of {list(CASES)}, got {cases!r}")
    if len(set(cases)) != len(cases):
        raise SpecError(f"cases: repeated case in {cases}")
    arms = [Arm(c, merge(base, {"model": {"case": c}})) for c in cases]
    ablations = data.get("ablations") or {}
    if not isinstance(ablations, dict):
        raise SpecError(f"ablations: expected a mapping of name -> config overrides, got {_type_name(ablations)}")
    for arm_name, overrides in ablations.items():
        _check_name("ablations", arm_name)
        if arm_name in cases:
            raise SpecError(f"ablations.{arm_name}: the name of a case; give the ablation its own name")
        checked = _check_config(f"ablations.{arm_name}", overrides)
        arms.append(Arm(arm_name, _full_config(f"ablations.{arm_name}", merge(base, checked))))
    if not arms:
        raise SpecError("nothing to run: give cases or ablations")

    raw_datasets = data.get("datasets") or {"default": {}}
    if not isinstance(raw_datasets, dict):
        raise SpecError(f"datasets: expected a mapping of name -> DataConfig overrides, got {_type_name(raw_datasets)}")
    datasets = {}
    for ds_name, overrides in raw_datasets.items():
        _check_name("datasets", ds_name)
        checked = _check_section(f"datasets.{ds_name}", DataConfig, overrides)
        datasets[ds_name] = _full_config(f"datasets.{ds_name}", merge(base, {"data": checked}))["data"]

    threshold = data.get("failure_threshold", DEFAULT_FAILURE_THRESHOLD)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not threshold > 0:
        raise SpecError(f"failure_threshold: expected a positive number, got {threshold!r}")
    reference = data.get("reference_arm", CASE_REGULARIZED if CASE_REGULARIZED in cases else None)
    if reference is not None and reference not in [a.name for a in arms]:
        raise SpecError(f"reference_arm: {reference!r} is not one of the arms {[a.name for a in arms]}")
    baselines = data.get("baselines", True)
    if not isinstance(baselines, bool):
        raise SpecError(f"baselines: expected true or false, got {baselines!r}")
    metrics = data.get("metrics") or []
    from latent_nodes.study.metrics import RUN_METRICS

    if not isinstance(metrics, list) or any(m not in RUN_METRICS for m in metrics):
        raise SpecError(f"metrics: expected a list of {sorted(RUN_METRICS)}, got {metrics!r}")
    boot = data.get("bootstrap") or {}
    if not isinstance(boot, dict) or set(boot) - {"resamples", "seed"}:
        raise SpecError(f"bootstrap: expected a mapping with keys resamples, seed; got {boot!r}")
    resamples, boot_seed = boot.get("resamples", 10000), boot.get("seed", 0)
    for key, value in (("resamples", resamples), ("seed", boot_seed)):
        if isinstance(value, bool) or not isinstance(value, int) or value < (1 if key == "resamples" else 0):
            raise SpecError(f"bootstrap.{key}: expected a {'positive' if key == 'resamples' else 'non-negative'} "
                            f"integer, got {value!r}")
    inference = _inference(data.get("inference"))
    return StudySpec(name=name, seeds=seeds, arms=arms, datasets=datasets, inference=inference,
                     failure_threshold=float(threshold), reference_arm=reference, baselines=baselines,
                     metrics=list(metrics), bootstrap_resamples=resamples, bootstrap_seed=boot_seed, base=base,
                     source=source, test_sets=_test_sets(data.get("test_sets"), inference, base["model"]["seq_len"]))


def load_spec(path: str | Path) -> StudySpec:
    """Read and validate a spec file; every problem is a SpecError of one line naming the file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise SpecError(f"spec file {path} does not exist") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from None
    return parse_spec(data, str(path))
