"""Collect a study's finished runs and write its tables (Markdown + JSON) and plots.

Only the runs of the current plan count: records of runs the spec no longer describes (a changed
seed list, an edited config) stay on disk but are left out, so the tables always match the spec.
"""

from __future__ import annotations

import json
from pathlib import Path

from latent_nodes.atomic import write_text_atomic
from latent_nodes.study.aggregate import aggregate, markdown
from latent_nodes.study.plan import baseline_file, plan_runs, run_file, test_set_baseline_file
from latent_nodes.study.runner import dataset_keys, read_json
from latent_nodes.study.spec import StudySpec


def collect(spec: StudySpec, out: Path) -> tuple[list[dict], dict, int]:
    """(finished run records, reference predictors per dataset and per (dataset, test set), planned runs)."""
    from latent_nodes.study.test_sets import evaluation_key

    keys = dataset_keys(spec)
    jobs = plan_runs(spec, keys)
    records = [read_json(run_file(out, j)) for j in jobs if run_file(out, j).is_file()]
    references: dict = {}
    for ds in spec.datasets:
        path = baseline_file(out, ds, keys[ds])
        if spec.baselines and path.is_file():
            references[ds] = read_json(path)["predictors"]
        for ts in spec.test_sets:
            path = test_set_baseline_file(out, ds, ts.name, evaluation_key(ts, keys[ds]))
            if spec.baselines and path.is_file():
                references[ds, ts.name] = read_json(path)["predictors"]
    # A run's test-set results count only when they were computed for the current samples and observation.
    for record in records:
        current = {ts.name: evaluation_key(ts, record["dataset_key"]) for ts in spec.test_sets}
        have = record["results"].get("test_sets")
        if have:
            record["results"]["test_sets"] = {n: v for n, v in have.items() if current.get(n) == v["key"]}
    return records, references, len(jobs)


def write_report(spec: StudySpec, out: Path) -> dict:
    """Write ``summary.md``, ``summary.json`` and ``plots/*.png`` under ``out``; returns the summary."""
    from latent_nodes.study.plots import plot_errors, plot_metrics

    out = Path(out)
    records, references, planned = collect(spec, out)
    summary = aggregate(spec, records, references, planned)
    write_text_atomic(out / "summary.json", json.dumps(summary, indent=1) + "\n")
    write_text_atomic(out / "summary.md", markdown(summary))
    if records:
        plot_errors(summary, out / "plots")
        plot_metrics(summary, records, out / "plots")
    return summary
