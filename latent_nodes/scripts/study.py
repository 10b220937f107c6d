"""Run a study described in a YAML spec on Ray: ``latent-nodes study studies/table1.yaml``.

Every (dataset variant, case or ablation, seed) is one reproducible training + evaluation with every
inference method of the spec, stored as one JSON under ``<out>/runs/`` (and its model under
``<out>/models/``); the reference predictors run once per dataset variant. Finished runs are skipped,
so an interrupted study (Ctrl-C, ``--max-runs``) resumes with the same command. At the end, the
tables (``summary.md``, ``summary.json``) and plots (``plots/``) are written from all finished runs.
Ray runs locally with ``--workers`` CPUs, or on a cluster with ``--address``. See docs/study.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

PROG = "latent-nodes study"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("spec", type=Path, help="the study's YAML spec (see studies/)")
    p.add_argument("--out", type=Path, help="output directory (default: runs/study/<spec name>)")
    p.add_argument("--cache", type=Path, default=Path("data/study"),
                   help="dataset cache, files named by their configuration's hash (default: data/study)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="local Ray CPUs = runs in parallel (default: this machine's CPU count)")
    p.add_argument("--address", help="Ray cluster address (e.g. auto or ray://head:10001); default: local Ray")
    p.add_argument("--max-runs", type=int, help="run at most this many new runs now, then stop (resume later)")
    p.add_argument("--plan", action="store_true", help="list the planned runs and which are done; run nothing")
    p.add_argument("--report-only", action="store_true", help="write tables and plots from finished runs only")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from latent_nodes.study.spec import SpecError, load_spec

    try:
        spec = load_spec(args.spec)
    except SpecError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    if args.workers < 1 or (args.max_runs is not None and args.max_runs < 0):
        print(f"{PROG}: --workers must be >= 1 and --max-runs >= 0", file=sys.stderr)
        return 2
    out = args.out or Path("runs/study") / spec.name
    from latent_nodes.study.plan import plan_runs, run_file
    from latent_nodes.study.report import write_report
    from latent_nodes.study.runner import RayMissing, RayUnavailable, dataset_keys, run_study

    try:
        if args.plan:
            jobs = plan_runs(spec, dataset_keys(spec))
            for job in jobs:
                print(f"{'done' if run_file(out, job).is_file() else 'todo'}  {job.id}")
            print(f"{len(jobs)} runs: {len(spec.datasets)} datasets x {len(spec.arms)} arms x {len(spec.seeds)} seeds, "
                  f"each evaluated with {len(spec.inference)} inference methods")
            return 0
        outcome = None
        if not args.report_only:
            outcome = run_study(spec, out, args.cache, workers=args.workers, address=args.address,
                                max_runs=args.max_runs, log=lambda line: print(line, flush=True))
    except (RayMissing, RayUnavailable) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError) as exc:  # a dataset file named by the spec, a bad dataset
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    summary = write_report(spec, out)
    print(f"{summary['finished_runs']} of {summary['planned_runs']} runs finished; tables in {out / 'summary.md'}")
    if outcome is None:
        return 0
    print(f"this invocation: {outcome.finished} runs in {outcome.wall_s:.1f} s, {outcome.skipped} done earlier, "
          f"{outcome.left} left")
    for line in outcome.failed:
        print(f"{PROG}: failed: {line}", file=sys.stderr)
    if outcome.interrupted:
        return 130
    return 1 if outcome.failed else 0


if __name__ == "__main__":
    sys.exit(main())
