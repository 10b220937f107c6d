"""Runs a study's plan on Ray: local on this machine by default, or a cluster given its address.

The driver (this process) owns every file: workers get the dataset through Ray's object store and
return the run's record and model bytes, which the driver writes atomically (model first, then the
record, whose existence marks the run done). So a cluster needs no shared filesystem, and a study
stopped at any point (Ctrl-C, a lost node, ``max_runs``) resumes by skipping the runs that have a
record. Each task asks for one CPU and uses one torch thread, so ``workers`` runs go in parallel.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from latent_nodes.atomic import write_bytes_atomic, write_text_atomic
from latent_nodes.study.datasets import dataset_file, dataset_key, generate_variant
from latent_nodes.study.plan import RunJob, baseline_file, model_file, plan_runs, run_file, test_set_baseline_file
from latent_nodes.study.references import reference_results
from latent_nodes.study.run import backfill_metrics, execute_run
from latent_nodes.study.spec import StudySpec
from latent_nodes.study.test_sets import TestSet, evaluation_key, generate_test_set, samples_key

RAY_MISSING = "the study runs on Ray, which is not installed: pip install ray (or pip install -e '.[experiments]')"


class RayMissing(RuntimeError):
    """Ray is not importable; the message says how to install it."""


class RayUnavailable(RuntimeError):
    """Ray is installed but could not be started or reached; the message names the address and reason."""


def import_ray():
    try:
        import ray
    except ImportError:
        raise RayMissing(RAY_MISSING) from None
    return ray


@dataclass
class Outcome:
    """What one invocation did."""

    planned: int = 0
    skipped: int = 0  # finished earlier
    finished: int = 0  # finished now
    left: int = 0  # still to run (max_runs, interruption, failures)
    failed: list[str] = field(default_factory=list)  # one line per task that raised
    interrupted: bool = False
    wall_s: float = 0.0


def _start_ray(ray, workers: int, address: str | None) -> None:
    """Start a local Ray with ``workers`` CPUs, or connect to the cluster at ``address``."""
    try:
        if address:
            import latent_nodes

            # Ship this checkout's code to the cluster's workers; their Python must have the dependencies.
            ray.init(address=address, runtime_env={"py_modules": [str(Path(latent_nodes.__file__).parent)]},
                     log_to_driver=False)
        else:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False,
                     object_store_memory=256 * 2**20)
    except (ConnectionError, RuntimeError, ray.exceptions.RayError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RayUnavailable(f"cannot {'reach the Ray cluster at ' + address if address else 'start Ray'}: "
                             f"{reason}") from None


def hooks(names: tuple[str, ...]) -> dict[str, Callable]:
    """The metric hook functions of ``names``, looked up in this process's registry."""
    from latent_nodes.study.metrics import RUN_METRICS

    return {name: RUN_METRICS[name] for name in names}


def dataset_keys(spec: StudySpec) -> dict[str, str]:
    return {ds: dataset_key(cfg, spec.base["sim"]) for ds, cfg in spec.datasets.items()}


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def _write_json(path: Path, obj: dict) -> None:
    write_text_atomic(path, json.dumps(obj, indent=1) + "\n")


def _baselines_current(path: Path, observed_steps: int = 0) -> bool:
    """A stored reference file has exactly the rows computed now (a new predictor triggers a recompute)."""
    from latent_nodes.study.references import predictor_names

    return path.is_file() and set(read_json(path)["predictors"]) == predictor_names(observed_steps)


def missing_test_sets(spec: StudySpec, record: dict, ds_key: str) -> list[TestSet]:
    """The spec's test sets that a finished run lacks, or holds for other samples or fewer methods."""
    have = record["results"].get("test_sets", {})
    out = []
    for ts in spec.test_sets:
        got = have.get(ts.name)
        if got is None or got["key"] != evaluation_key(ts, ds_key) or set(ts.inference) - set(got["inference"]):
            out.append(ts)
    return out


def _summary_line(record: dict) -> str:
    inference = record["results"]["inference"]
    if not inference:
        return "training diverged"
    method, res = next(iter(inference.items()))
    return ", ".join(f"{b} {e:.5f}" for b, e in res["errors"].items()) + f" ({method})"


def run_study(spec: StudySpec, out: Path, cache: Path, workers: int = 2, address: str | None = None,
              max_runs: int | None = None, log: Callable[[str], None] = print) -> Outcome:
    """Run what is missing of ``spec`` under ``out``; returns what was done. Ray starts only if needed."""
    start = time.perf_counter()
    out, cache = Path(out), Path(cache)
    keys = dataset_keys(spec)
    jobs = plan_runs(spec, keys)
    done = [j for j in jobs if run_file(out, j).is_file()]
    todo = [j for j in jobs if not run_file(out, j).is_file()]
    outcome = Outcome(planned=len(jobs), skipped=len(done))
    if max_runs is not None:
        todo = todo[:max_runs]
    backfill = []
    for job in done:
        record = read_json(run_file(out, job))
        missing = tuple(m for m in spec.metrics if m not in record["results"]["metrics"])
        missing_ts = missing_test_sets(spec, record, job.dataset_key)
        if (missing or missing_ts) and record["results"]["inference"]:
            backfill.append((job, record, missing, missing_ts))
    baselines = [ds for ds in spec.datasets
                 if spec.baselines and not _baselines_current(baseline_file(out, ds, keys[ds]))]
    ts_baselines = [(ds, ts) for ds in spec.datasets for ts in spec.test_sets if spec.baselines and not
                    _baselines_current(test_set_baseline_file(out, ds, ts.name, evaluation_key(ts, keys[ds])),
                                       ts.observed_steps)]
    needed = sorted({j.dataset for j in todo} | {j.dataset for j, *_ in backfill} | set(baselines)
                    | {ds for ds, _ in ts_baselines})
    outcome.left = outcome.planned - outcome.skipped
    if not needed:
        outcome.wall_s = time.perf_counter() - start
        return outcome

    ray = import_ray()
    started_here = not ray.is_initialized()
    if started_here:
        _start_ray(ray, workers, address)
    log(f"study {spec.name}: {len(jobs)} runs planned, {len(done)} done earlier, {len(todo)} to run now"
        f" on {int(ray.cluster_resources().get('CPU', 0))} Ray CPUs")
    remote_generate = ray.remote(num_cpus=1, max_retries=0)(generate_variant)
    remote_run = ray.remote(num_cpus=1, max_retries=0)(execute_run)
    remote_refs = ray.remote(num_cpus=1, max_retries=0)(reference_results)
    remote_backfill = ray.remote(num_cpus=1, max_retries=0)(backfill_metrics)
    remote_generate_ts = ray.remote(num_cpus=1, max_retries=0)(generate_test_set)
    pending: dict = {}
    try:
        from latent_nodes.data.dataset import load_dataset, save_dataset

        paths = {ds: dataset_file(cache, spec.datasets[ds], keys[ds]) for ds in needed}
        generating = {ds: remote_generate.remote(spec.datasets[ds], spec.base["sim"])
                      for ds in needed if not paths[ds].is_file()}
        for ds, ref in generating.items():
            log(f"  generating dataset {ds} ({keys[ds]}) in the simulator")
            save_dataset(ray.get(ref), paths[ds])
        data = {ds: ray.put(load_dataset(paths[ds])) for ds in needed}
        samples = _test_set_samples(ray, remote_generate_ts, spec, needed, data, keys, cache, log)

        def test_sets(ds: str, wanted: list[TestSet]) -> list:
            return [(ts, evaluation_key(ts, keys[ds]), samples[ds, ts.name]) for ts in wanted]

        for ds in baselines:
            pending[remote_refs.remote(data[ds])] = ("baselines", ds)
        for ds, ts in ts_baselines:
            pending[remote_refs.remote(data[ds], None, ts.observed_steps, samples[ds, ts.name])] = (
                "test set baselines", (ds, ts))
        for job in todo:
            pending[remote_run.remote(job, data[job.dataset], hooks(job.metrics),
                                      test_sets(job.dataset, spec.test_sets))] = ("run", job)
        for job, record, missing, missing_ts in backfill:
            model = model_file(out, job)
            if not model.is_file():
                what = [*missing, *(ts.name for ts in missing_ts)]
                outcome.failed.append(f"{job.id}: metrics and test sets {what} need its model, {model} is missing")
                continue
            pending[remote_backfill.remote(record, model.read_bytes(), data[job.dataset], hooks(missing),
                                           test_sets(job.dataset, missing_ts))] = ("metrics", job)
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            kind, item = pending.pop(ready[0])
            name = (item if kind == "baselines" else f"{item[0]} {item[1].name}" if kind == "test set baselines"
                    else item.id)
            try:
                value = ray.get(ready[0])
            except ray.exceptions.RayError as exc:
                reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
                outcome.failed.append(f"{kind} {name}: {reason}")
                log(f"  FAILED {kind} {name}: {reason}")
                continue
            _store(kind, item, value, out, keys, outcome, log)
    except KeyboardInterrupt:
        outcome.interrupted = True
        for ref in pending:
            ray.cancel(ref, force=True)
        log(f"study {spec.name}: interrupted; {outcome.finished} runs finished now are kept, "
            "the same command resumes")
    finally:
        if started_here:
            ray.shutdown()
    outcome.left = outcome.planned - outcome.skipped - outcome.finished
    outcome.wall_s = time.perf_counter() - start
    return outcome


def _test_set_samples(ray, remote_generate, spec: StudySpec, needed: list[str], data: dict, keys: dict[str, str],
                      cache: Path, log: Callable[[str], None]) -> dict:
    """{(dataset, test set name): its samples (a Dataset), or None for the variant's own test split}.

    Samples are generated once into the cache (``<cache>/<samples key>.npz``, atomically) and shared by
    every run of the variant.
    """
    from latent_nodes.data.dataset import load_dataset, save_dataset

    out: dict = {}
    generating = {}
    for ds in needed:
        for ts in spec.test_sets:
            key = samples_key(ts, keys[ds])
            if key is None:
                out[ds, ts.name] = None
                continue
            path = Path(cache) / f"{key}.npz"
            out[ds, ts.name] = path
            if not path.is_file() and path not in generating:
                log(f"  generating test set {ts.name} on {ds} ({key}) in the simulator")
                generating[path] = remote_generate.remote(ts, data[ds], spec.datasets[ds], spec.base["sim"])
    for path, ref in generating.items():
        save_dataset(ray.get(ref), path)
    loaded: dict = {}
    for k, path in out.items():
        if path is not None:
            if path not in loaded:  # the Dataset itself: Ray resolves references only at a task's top level
                loaded[path] = load_dataset(path)
            out[k] = loaded[path]
    return out


def _store(kind: str, item, value, out: Path, keys: dict[str, str], outcome: Outcome,
           log: Callable[[str], None]) -> None:
    """Write a finished task's result; the run record goes last, as the mark that the run is done."""
    if kind == "test set baselines":
        from latent_nodes.study.test_sets import as_dict

        ds, ts = item
        ev_key = evaluation_key(ts, keys[ds])
        _write_json(test_set_baseline_file(out, ds, ts.name, ev_key),
                    {"dataset": ds, "dataset_key": keys[ds], "test_set": as_dict(ts), "key": ev_key,
                     "predictors": value})
        log(f"  reference predictors on {ds}, test set {ts.name}: " + ", ".join(
            f"{p} " + "/".join(f"{e:.5f}" for e in r["errors"].values()) for p, r in value.items()))
        return
    if kind == "baselines":
        _write_json(baseline_file(out, item, keys[item]), {"dataset": item, "dataset_key": keys[item],
                                                           "predictors": value})
        log(f"  reference predictors on {item}: " + ", ".join(
            f"{p} " + "/".join(f"{e:.5f}" for e in r["errors"].values()) for p, r in value.items()))
        return
    job: RunJob = item
    if kind == "metrics":
        _write_json(run_file(out, job), value)
        log(f"  metrics added to {job.id}")
        return
    record, model_bytes = value
    if model_bytes is not None:
        write_bytes_atomic(model_file(out, job), model_bytes)
    _write_json(run_file(out, job), record)
    outcome.finished += 1
    log(f"  [{outcome.skipped + outcome.finished}/{outcome.planned}] {job.dataset} {job.arm} seed {job.seed}: "
        f"{_summary_line(record)}; {record['timings'].get('total_s', record['timings']['train_s']):.0f} s")
