"""The study's tables: per dataset variant x arm x inference method x behaviour, over seeds.

Each cell holds the mean error over seeds with its bootstrap 95 % interval, the interval that
resamples test positions as well (``ci95_two_level``), the per-seed values, the failure rate (runs
whose error exceeds the spec's threshold, or whose training diverged) and a two-sided Mann-Whitney U
test of the reference arm (by default the regularized case) against this arm. The reference arm is
compared with each reference predictor position by position (``paired``: Wilcoxon signed-rank on the
per-position error averaged over seeds, effect sizes, Holm-corrected over the family of comparisons
of one dataset variant, test set and inference method). Reference predictors get one value per
dataset variant (they have no seed). Metric hooks that give a number, or a number per behaviour, get
the same mean and interval, and a Spearman rank correlation with the error across all runs of a
dataset variant (does the metric predict it?).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from latent_nodes.study.spec import StudySpec
from latent_nodes.study.stats import bootstrap_ci, holm, mann_whitney, paired_comparison, two_level_bootstrap_ci


def config_differences(base: dict, config: dict) -> dict[str, Any]:
    """``section.key -> value`` for every setting where ``config`` differs from ``base``."""
    out = {}
    for section, values in config.items():
        for key, value in values.items():
            if base.get(section, {}).get(key) != value:
                out[f"{section}.{key}"] = value
    return out


def _errors(run: dict, method: str, test_set: str | None) -> dict:
    """A run's error per behaviour for an inference method, on its test split or a named test set ({} if absent)."""
    res = run["results"]
    inference = (res["inference"] if test_set is None
                 else res.get("test_sets", {}).get(test_set, {}).get("inference", {}))
    return inference.get(method, {}).get("errors", {})


def _per_sample(run: dict, method: str, test_set: str | None) -> dict:
    """A run's error per test position, per behaviour ({} if absent)."""
    res = run["results"]
    inference = (res["inference"] if test_set is None
                 else res.get("test_sets", {}).get(test_set, {}).get("inference", {}))
    return inference.get(method, {}).get("per_sample", {})


def _position_matrix(runs: list[dict], method: str, behaviour: str, test_set: str | None) -> np.ndarray | None:
    """[seeds, positions] errors of the runs that trained, or None unless every one has them all, alike."""
    rows = []
    for r in sorted(runs, key=lambda r: r["seed"]):
        if "diverged" in r["results"]["training"]:
            continue
        values = _per_sample(r, method, test_set).get(behaviour)
        if values is None:
            return None
        rows.append(values)
    if not rows or len({len(v) for v in rows}) != 1:
        return None
    matrix = np.asarray(rows, dtype=np.float64)
    return matrix if np.all(np.isfinite(matrix)) else None


def _cell(spec: StudySpec, runs: list[dict], method: str, behaviour: str, test_set: str | None = None) -> dict:
    """Statistics of one (dataset, test set, arm, method, behaviour) over the runs' seeds."""
    seeds, values, failures, diverged = [], [], 0, 0
    for r in sorted(runs, key=lambda r: r["seed"]):
        res = r["results"]
        if "diverged" in res["training"]:
            diverged += 1
            failures += 1
            continue
        value = _errors(r, method, test_set).get(behaviour)
        if value is None:
            continue
        seeds.append(r["seed"])
        values.append(value)
        failures += value > spec.failure_threshold
    n = len(values) + diverged
    cell = {"n": n, "seeds": seeds, "values": values, "failures": failures, "diverged": diverged,
            "failure_rate": failures / n if n else None, "mean": None, "ci95": None, "ci95_two_level": None}
    if values:
        cell["mean"] = float(np.mean(values))
        cell["ci95"] = list(bootstrap_ci(values, spec.bootstrap_resamples, 0.95, spec.bootstrap_seed))
        matrix = _position_matrix(runs, method, behaviour, test_set)
        if matrix is not None and matrix.shape[0] == len(values):
            cell["ci95_two_level"] = list(two_level_bootstrap_ci(matrix, spec.bootstrap_resamples, 0.95,
                                                                 spec.bootstrap_seed))
    return cell


def _paired_rows(spec: StudySpec, ds: str, test_set: str | None, method: str, runs: list[dict],
                 predictors: dict, behaviours: list[str]) -> list[dict]:
    """The reference arm against every reference predictor, position by position, Holm-corrected as a family."""
    out = []
    for behaviour in behaviours:
        matrix = _position_matrix(runs, method, behaviour, test_set)
        if matrix is None:
            continue
        model = matrix.mean(axis=0)
        seed_means = matrix.mean(axis=1)
        for predictor, result in predictors.items():
            ref = result.get("per_sample", {}).get(behaviour)
            if ref is None or len(ref) != model.size:
                continue
            test = paired_comparison(model, ref)
            if test is None:
                continue
            ref_mean = float(np.mean(ref))
            out.append({"dataset": ds, "test_set": test_set, "inference": method, "arm": spec.reference_arm,
                        "behaviour": behaviour, "predictor": predictor, "model_mean": float(model.mean()),
                        "reference_mean": ref_mean, **test,
                        "seeds_below_reference": int((seed_means < ref_mean).sum()), "seeds": int(matrix.shape[0])})
    for row, adjusted in zip(out, holm([r["p"] for r in out])):
        row["p_holm"] = adjusted
        row["family_size"] = len(out)
    return out


def _ranked(cell: dict) -> list[float]:
    """What the rank test sees: every run, a diverged one above all finite errors (+inf).

    So an unstable arm is not flattered by dropping its worst outcomes; the mean and CI stay over the runs
    that trained (the failure rate counts the rest).
    """
    return cell["values"] + [float("inf")] * cell["diverged"]


def _spearman(x: list[float], y: list[float]) -> dict | None:
    """Spearman's rho of x and y; +inf (a collapsed chart's conformality) ranks above every finite value.

    Ranks are taken first (``rankdata``: +inf last, ties averaged), so such runs count instead of being
    dropped; ``n_inf`` says how many there were.
    """
    from scipy.stats import rankdata, spearmanr

    xa, ya = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(x) < 3 or np.isnan(xa).any() or np.isnan(ya).any():
        return None
    rx, ry = rankdata(xa), rankdata(ya)
    if np.ptp(rx) == 0 or np.ptp(ry) == 0:
        return None
    res = spearmanr(rx, ry)
    return {"rho": float(res.statistic), "p": float(res.pvalue), "n": len(x),
            "n_inf": int(np.isinf(xa).sum() + np.isinf(ya).sum())}


def aggregate(spec: StudySpec, records: list[dict], references: dict[str, dict], planned: int) -> dict:
    """Summary of the finished runs (a partial study gives a partial summary, saying so)."""
    behaviours = sorted({b for r in records for m in r["results"]["inference"].values() for b in m["errors"]} |
                        {b for ref in references.values() for p in ref.values() for b in p["errors"]})
    rows, metric_rows, correlations, refs, paired = [], [], [], [], []
    columns = [(None, [m.name for m in spec.inference])] + [(ts.name, list(ts.inference)) for ts in spec.test_sets]
    for ds in spec.datasets:
        ds_runs = [r for r in records if r["dataset"] == ds]
        by_arm = {arm.name: [r for r in ds_runs if r["arm"] == arm.name] for arm in spec.arms}
        for test_set, methods in columns:
            for method in methods:
                for behaviour in behaviours:
                    ref_cell = None
                    if spec.reference_arm and by_arm.get(spec.reference_arm):
                        ref_cell = _cell(spec, by_arm[spec.reference_arm], method, behaviour, test_set)
                    for arm in spec.arms:
                        if not by_arm[arm.name]:
                            continue
                        cell = _cell(spec, by_arm[arm.name], method, behaviour, test_set)
                        if test_set is not None and not cell["values"] and not cell["diverged"]:
                            continue  # not evaluated yet
                        test = None
                        if ref_cell is not None and arm.name != spec.reference_arm:
                            test = mann_whitney(_ranked(ref_cell), _ranked(cell))
                        rows.append({"dataset": ds, "test_set": test_set, "arm": arm.name,
                                     "case": arm.config["model"]["case"], "inference": method,
                                     "behaviour": behaviour, **cell, "vs_reference": test})
            predictors = references.get((ds, test_set) if test_set else ds, {})
            if spec.reference_arm and by_arm.get(spec.reference_arm):
                for method in methods:
                    paired += _paired_rows(spec, ds, test_set, method, by_arm[spec.reference_arm], predictors,
                                           behaviours)
            for predictor, result in predictors.items():
                for behaviour, error in result["errors"].items():
                    refs.append({"dataset": ds, "test_set": test_set, "predictor": predictor, "behaviour": behaviour,
                                 "error": error, "failed": error > spec.failure_threshold})
        metric_rows += _metric_rows(spec, ds, by_arm)
        correlations += _metric_correlations(spec, ds, ds_runs, behaviours)
    return {"study": spec.name, "spec": spec.source, "planned_runs": planned, "finished_runs": len(records),
            "failure_threshold": spec.failure_threshold, "reference_arm": spec.reference_arm,
            "bootstrap": {"resamples": spec.bootstrap_resamples, "seed": spec.bootstrap_seed,
                          "interval": "percentile, of the mean over seeds, 95 %",
                          "interval_two_level": "percentile, of the mean, resampling seeds and test positions, 95 %"},
            "seeds": spec.seeds, "base_config": spec.base,
            "arm_differences": {a.name: config_differences(spec.base, a.config) for a in spec.arms},
            "datasets": spec.datasets, "inference": {m.name: m.config for m in spec.inference},
            "test_sets": {ts.name: {**dataclasses.asdict(ts), "description": ts.describe()} for ts in spec.test_sets},
            "behaviours": behaviours, "rows": rows, "references": refs, "paired": paired, "metrics": metric_rows,
            "metric_correlations": correlations}


def _metric_values(run: dict, name: str) -> dict[str | None, float]:
    """A hook's value as {behaviour or None: number}, +inf kept (a collapsed chart); other shapes are not aggregated."""
    def number(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isnan(v) and v != -math.inf

    value = run["results"]["metrics"].get(name)
    if number(value):
        return {None: float(value)}
    if isinstance(value, dict):
        return {k: float(v) for k, v in value.items() if number(v)}
    return {}


def _metric_rows(spec: StudySpec, ds: str, by_arm: dict[str, list[dict]]) -> list[dict]:
    """Mean and CI of a hook over the runs with a finite value; ``inf_seeds`` lists the others (+inf)."""
    rows = []
    for name in spec.metrics:
        for arm, runs in by_arm.items():
            per_key: dict[str | None, list[tuple[int, float]]] = {}
            for r in sorted(runs, key=lambda r: r["seed"]):
                for key, v in _metric_values(r, name).items():
                    per_key.setdefault(key, []).append((r["seed"], v))
            for key, pairs in per_key.items():
                finite = [(sd, v) for sd, v in pairs if math.isfinite(v)]
                values = [v for _, v in finite]
                rows.append({"dataset": ds, "arm": arm, "metric": name, "behaviour": key,
                             "seeds": [sd for sd, _ in finite], "values": values,
                             "inf_seeds": [sd for sd, v in pairs if not math.isfinite(v)],
                             "mean": float(np.mean(values)) if values else None,
                             "ci95": list(bootstrap_ci(values, spec.bootstrap_resamples, 0.95, spec.bootstrap_seed))
                             if values else None})
    return rows


def _metric_correlations(spec: StudySpec, ds: str, runs: list[dict], behaviours: list[str]) -> list[dict]:
    out = []
    for name in spec.metrics:
        for method in spec.inference:
            for behaviour in behaviours:
                x, y = [], []
                for r in runs:
                    values = _metric_values(r, name)
                    m = values.get(behaviour, values.get(None))
                    err = r["results"]["inference"].get(method.name, {}).get("errors", {}).get(behaviour)
                    if m is not None and err is not None:
                        x.append(m)
                        y.append(err)
                corr = _spearman(x, y)
                if corr is not None:
                    out.append({"dataset": ds, "metric": name, "inference": method.name, "behaviour": behaviour,
                                **corr})
    return out


def _fmt(x: float | None) -> str:
    return "–" if x is None else f"{x:.5f}" if abs(x) >= 1e-4 or x == 0 else f"{x:.2e}"


def _p(test: dict | None) -> str:
    return "" if test is None else f"{test['p']:.2g}"


def _ci(ci: list[float] | None) -> str:
    return "–" if ci is None else f"[{_fmt(ci[0])}, {_fmt(ci[1])}]"


def _paired_table(rows: list[dict]) -> list[str]:
    """The reference arm against each predictor, position by position (empty when nothing was paired)."""
    if not rows:
        return []
    lines = ["| paired: inference | predictor | model | predictor | ratio | median difference | r | "
             "positions won, model : predictor | seeds below predictor | p | p, Holm (m) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['inference']} | {r['predictor']} | {_fmt(r['model_mean'])} | {_fmt(r['reference_mean'])} | "
              f"{r['mean_ratio']:.2f} | {r['median_difference']:.2e} | {r['rank_biserial']:+.2f} | "
              f"{r['model_wins']} : {r['reference_wins']} | {r['seeds_below_reference']}/{r['seeds']} | "
              f"{r['p']:.2g} | {r['p_holm']:.2g} ({r['family_size']}) |" for r in rows]
    return lines + [""]


def markdown(summary: dict) -> str:
    """The report's tables: one per dataset variant and behaviour, per-seed values below."""
    s = summary
    ref = s["reference_arm"]
    lines = [f"# Study `{s['study']}`", "",
             f"{s['finished_runs']} of {s['planned_runs']} planned runs finished"
             + ("" if s["finished_runs"] == s["planned_runs"] else " (partial: the tables cover finished runs only)")
             + f"; seeds {s['seeds']}. Errors: the paper's Eq. (1) per unseen test sample from the first-step "
             "perception, averaged per behaviour, in normalized units (each dimension scaled to [-1, 1] over "
             "the training set). Mean over seeds with its bootstrap 95 % interval "
             f"({s['bootstrap']['resamples']} resamples, seed {s['bootstrap']['seed']}); failures: runs whose "
             f"error exceeds {s['failure_threshold']:g} or whose training diverged; p: two-sided Mann-Whitney U "
             f"test of `{ref}` against the row's arm over seeds. The second interval resamples the test "
             "positions as well as the seeds (another draw of both would move the mean this much). Paired "
             f"tables compare `{ref}` with each reference predictor on the same positions: the model's error per "
             "position (mean over seeds) against the predictor's, two-sided Wilcoxon signed-rank p, Holm-corrected "
             "over the comparisons of one dataset, test set and inference method (m of them); r: matched-pairs "
             "rank-biserial correlation (-1: the model lower at every position, +1: the predictor).", ""]
    diffs = s["arm_differences"]
    lines.append("Hyperparameters are shared by all arms (the base config in `summary.json`); arms differ only in:")
    lines += [f"- `{arm}`: " + (", ".join(f"{k} = {v}" for k, v in d.items()) or "nothing (the base)")
              for arm, d in diffs.items()]
    lines += ["", "Inference methods: " + "; ".join(
        f"`{name}` ({c['method']}, {c['steps']} steps, {c['n_starts']} starts)" for name, c in s["inference"].items()),
        ""]
    for ds, data in s["datasets"].items():
        lines += [f"## Dataset `{ds}`", "",
                  (f"{data['train_grid'][0] * data['train_grid'][1]} training positions drawn at random (the "
                   "workspace's corners and seeded uniform draws)" if data.get("train_layout") == "random"
                   else f"train grid {data['train_grid']}")
                  + f", test grid {data['test_grid']}, waypoint perturbation "
                  f"{data['perturbation']} m, generator seed {data['seed']}"
                  + (f", file {data['dataset_path']}" if data.get("dataset_path") else ""), ""]
        for test_set in [None, *s.get("test_sets", {})]:
            if test_set is not None:
                lines += [f"### Test set `{test_set}`: {s['test_sets'][test_set]['description']}", ""]
            for behaviour in s["behaviours"]:
                rows = [r for r in s["rows"] if r["dataset"] == ds and r.get("test_set") == test_set
                        and r["behaviour"] == behaviour]
                refs = [r for r in s["references"] if r["dataset"] == ds and r.get("test_set") == test_set
                        and r["behaviour"] == behaviour]
                if not rows and not refs:
                    continue
                lines += [f"{'###' if test_set is None else '####'} {behaviour}"
                          + ("" if test_set is None else f" (`{test_set}`)"), "",
                          "| arm | inference | mean | 95 % CI, seeds | 95 % CI, seeds and positions | failures | "
                          "p vs reference arm |",
                          "|---|---|---|---|---|---|---|"]
                for r in rows:
                    lines.append(f"| {r['arm']} | {r['inference']} | {_fmt(r['mean'])} | {_ci(r['ci95'])} | "
                                 f"{_ci(r.get('ci95_two_level'))} | {r['failures']}/{r['n']} | "
                                 f"{_p(r['vs_reference'])} |")
                for r in refs:
                    lines.append(f"| {r['predictor']} (reference) | – | {_fmt(r['error'])} | – | – | "
                                 f"{'1/1' if r['failed'] else '0/1'} | |")
                lines.append("")
                lines += _paired_table([r for r in s.get("paired", []) if r["dataset"] == ds
                                        and r.get("test_set") == test_set and r["behaviour"] == behaviour])
        seeds_rows = [r for r in s["rows"] if r["dataset"] == ds and r["values"]]
        if seeds_rows:
            lines += ["Per-seed errors (seed: value):", "", "| test set | arm | inference | behaviour | per seed |",
                      "|---|---|---|---|---|"]
            lines += [f"| {r.get('test_set') or 'test split'} | {r['arm']} | {r['inference']} | {r['behaviour']} | "
                      + ", ".join(f"{sd}: {_fmt(v)}" for sd, v in zip(r["seeds"], r["values"])) + " |"
                      for r in seeds_rows]
            lines.append("")
        metric_rows = [r for r in s["metrics"] if r["dataset"] == ds]
        if metric_rows:
            lines += ["Per-run metrics (mean and CI over the finite values; +inf: seeds whose chart collapsed):", "",
                      "| arm | metric | behaviour | mean | 95 % CI | per seed | +inf |",
                      "|---|---|---|---|---|---|---|"]
            lines += [f"| {r['arm']} | {r['metric']} | {r['behaviour'] or 'all'} | {_fmt(r['mean'])} | "
                      + ("–" if r["ci95"] is None else f"[{_fmt(r['ci95'][0])}, {_fmt(r['ci95'][1])}]") + " | "
                      + ", ".join(f"{sd}: {_fmt(v)}" for sd, v in zip(r["seeds"], r["values"])) + " | "
                      + ", ".join(str(sd) for sd in r.get("inf_seeds", [])) + " |"
                      for r in metric_rows]
            corr = [c for c in s["metric_correlations"] if c["dataset"] == ds]
            if corr:
                lines += ["", "Does a metric predict the error? Spearman rank correlation over all runs (a +inf "
                          "metric ranked above every finite one, not dropped):", "",
                          "| metric | inference | behaviour | rho | p | runs | of them +inf |",
                          "|---|---|---|---|---|---|---|"]
                lines += [f"| {c['metric']} | {c['inference']} | {c['behaviour']} | {c['rho']:.2f} | {c['p']:.2g} "
                          f"| {c['n']} | {c.get('n_inf', 0)} |" for c in corr]
            lines.append("")
    return "\n".join(lines) + "\n"
