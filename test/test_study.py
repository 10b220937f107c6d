"""The study runner: spec checks, statistics with known answers, and a miniature study on local Ray.

The miniature study is interrupted, resumed, and must end with the same per-run results as an
uninterrupted one.
"""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from latent_nodes.study.aggregate import aggregate, markdown
from latent_nodes.study.spec import SpecError, load_spec, parse_spec
from latent_nodes.study.stats import bootstrap_ci, mann_whitney

ROOT = Path(__file__).resolve().parent.parent
MINI = ROOT / "studies" / "mini.yaml"


# --- the spec -------------------------------------------------------------------------------------

@pytest.mark.parametrize("spec, message", [
    ({"name": "x", "seedz": 3}, "unknown key 'seedz'"),
    ({"seeds": 3}, "missing key 'name'"),
    ({"name": "x", "seeds": "ten"}, "seeds: expected a count or a non-empty list"),
    ({"name": "x", "seeds": [0, 0]}, "seeds: repeated seeds"),
    ({"name": "x", "base": {"train": {"epochs": "many"}}}, "base.train.epochs: expected int, got str"),
    ({"name": "x", "base": {"train": {"lr": True}}}, "base.train.lr: expected float, got bool"),
    ({"name": "x", "base": {"trian": {}}}, "base: unknown config section 'trian'"),
    ({"name": "x", "ablations": {"a": {"train": {"lamda": 0}}}}, "ablations.a.train: unknown key 'lamda'"),
    ({"name": "x", "cases": ["regularized"]}, "cases: expected a list of"),
    ({"name": "x", "ablations": {"embedding": {}}, "cases": ["embedding"]}, "the name of a case"),
    ({"name": "x", "datasets": {"d": {"noise": 0.01}}}, "datasets.d: unknown key 'noise'"),
    ({"name": "x", "datasets": {"d": {"train_grid": 3}}}, "datasets.d.train_grid: expected list, got int"),
    ({"name": "x", "inference": [{"method": "sgd"}]}, "inference[0].method: 'sgd' is not one of"),
    ({"name": "x", "inference": [{"steps": 30}, {"steps": 30}]}, "'gauss-newton-30' used twice"),
    ({"name": "x", "failure_threshold": -1}, "failure_threshold: expected a positive number"),
    ({"name": "x", "reference_arm": "nope"}, "reference_arm: 'nope' is not one of the arms"),
    ({"name": "x", "metrics": ["nope"]}, "metrics: expected a list of"),
    ({"name": "a b"}, "name: name 'a b' must be"),
    (["name", "x"], "a spec is a mapping"),
])
def test_bad_spec_is_one_clear_error_line(spec, message):
    with pytest.raises(SpecError) as info:
        parse_spec(spec, "bad.yaml")
    text = str(info.value)
    assert message in text and text.startswith("bad.yaml: ") and "\n" not in text


def test_bad_spec_through_the_command(tmp_path, capsys):
    from latent_nodes.cli import main

    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nbase: {train: {epochs: [1]}}\n")
    assert main(["study", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"latent-nodes study: {path}: base.train.epochs: expected int, got list [1]"
    path.write_text("name: [unclosed\n")
    assert main(["study", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "not valid YAML" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name, runs, methods", [("table1", 30, 4), ("ablations", 80, 2),
                                                  ("generalization", 150, 2), ("mini", 4, 2)])
def test_shipped_specs_are_valid(name, runs, methods):
    spec = load_spec(ROOT / "studies" / f"{name}.yaml")
    assert len(spec.datasets) * len(spec.arms) * len(spec.seeds) == runs
    assert len(spec.inference) == methods


def test_spec_expands_to_full_configs():
    spec = parse_spec({"name": "x", "seeds": [3, 5], "base": {"train": {"epochs": 7}},
                       "cases": ["embedding+regularization"],
                       "ablations": {"lam0": {"train": {"reg_weight": 0}}, "k3": {"model": {"local_dim": 3}}},
                       "datasets": {"d": {"perturbation": 0.005}}, "inference": [{"method": "adam", "steps": 100}]})
    arms = {a.name: a.config for a in spec.arms}
    assert spec.seeds == [3, 5] and list(arms) == ["embedding+regularization", "lam0", "k3"]
    assert all(c["train"]["epochs"] == 7 for c in arms.values())
    assert arms["lam0"]["train"]["reg_weight"] == 0 and arms["lam0"]["model"]["case"] == "embedding+regularization"
    assert arms["k3"]["model"]["local_dim"] == 3 and arms["k3"]["train"]["reg_weight"] == 1.0
    assert spec.datasets["d"]["perturbation"] == 0.005 and spec.datasets["d"]["train_grid"] == [5, 5]
    assert [m.name for m in spec.inference] == ["adam-100"] and spec.inference[0].config["n_starts"] == 8


def test_run_identity_follows_what_decides_the_result():
    from latent_nodes.study.plan import plan_runs

    base = {"name": "x", "seeds": 2, "cases": ["embedding"]}
    ids = [j.id for j in plan_runs(parse_spec(base), {"default": "k"})]
    again = [j.id for j in plan_runs(parse_spec(dict(base, failure_threshold=0.01)), {"default": "k"})]
    other = [j.id for j in plan_runs(parse_spec(dict(base, base={"train": {"epochs": 5}})), {"default": "k"})]
    assert ids == again and len(set(ids)) == 2  # reporting settings do not rerun anything
    assert not set(ids) & set(other)
    assert ids != [j.id for j in plan_runs(parse_spec(base), {"default": "other-data"})]


# --- statistics with known answers ----------------------------------------------------------------

def test_bootstrap_ci_known_answers():
    assert bootstrap_ci([0.3] * 5) == (0.3, 0.3)
    assert bootstrap_ci([0.7]) == (0.7, 0.7)
    x = np.random.default_rng(1).normal(2.0, 1.0, size=400)
    lo, hi = bootstrap_ci(x, resamples=4000, seed=3)
    half = 1.96 * x.std() / np.sqrt(x.size)  # the normal-theory interval a large sample must agree with
    assert lo == pytest.approx(x.mean() - half, abs=0.15 * half)
    assert hi == pytest.approx(x.mean() + half, abs=0.15 * half)
    assert bootstrap_ci(x, 500, seed=3) == bootstrap_ci(x, 500, seed=3) != bootstrap_ci(x, 500, seed=4)
    with pytest.raises(ValueError):
        bootstrap_ci([])


def test_mann_whitney_known_answers():
    separated = mann_whitney([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])
    assert separated["u"] == 0 and separated["p"] == pytest.approx(2 / 252)  # exact: 2 / C(10, 5)
    assert mann_whitney([6, 7, 8, 9, 10], [1, 2, 3, 4, 5])["u"] == 25
    assert mann_whitney([1, 2, 3], [1, 2, 3])["p"] == pytest.approx(1.0)
    assert mann_whitney([], [1.0]) is None


def _record(arm, case, seed, reach, circle, diverged=False):
    training = {"epochs": 1, "final": None, **({"diverged": "loss = nan"} if diverged else {})}
    inference = {} if diverged else {"gauss-newton-30": {"errors": {"reach": reach, "reach_circle": circle}}}
    return {"dataset": "default", "arm": arm, "case": case, "seed": seed,
            "results": {"training": training, "inference": inference, "metrics": {"m": {"reach": reach * 2}}}}


def test_aggregate_on_cases_with_known_answers():
    spec = parse_spec({"name": "known", "seeds": 5, "cases": ["embedding", "embedding+regularization"],
                       "metrics": ["final_regularizer"], "bootstrap": {"resamples": 1000}})
    spec.metrics = ["m"]  # a metric with known per-run values, given in the records
    good = [0.0002, 0.0003, 0.0002, 0.0004, 0.0003]
    bad = [0.001, 0.005, 0.02, 0.0009, 0.0011]
    records = [_record("embedding+regularization", "embedding+regularization", s, v, v) for s, v in enumerate(good)]
    records += [_record("embedding", "embedding", s, v, v) for s, v in enumerate(bad[:4])]
    records.append(_record("embedding", "embedding", 4, 0, 0, diverged=True))
    refs = {"default": {"nearest neighbour": {"errors": {"reach": 0.0004, "reach_circle": 0.003}}}}
    summary = aggregate(spec, records, refs, planned=12)
    rows = {(r["arm"], r["behaviour"]): r for r in summary["rows"]}
    reg, emb = rows["embedding+regularization", "reach"], rows["embedding", "reach"]
    assert reg["mean"] == pytest.approx(np.mean(good)) and reg["failures"] == 0 and reg["vs_reference"] is None
    assert reg["ci95"][0] <= reg["mean"] <= reg["ci95"][1] and reg["values"] == good
    # threshold 0.002: 0.005 and 0.02 fail, and so does the diverged seed
    assert emb["n"] == 5 and emb["failures"] == 3 and emb["failure_rate"] == pytest.approx(0.6)
    assert emb["seeds"] == [0, 1, 2, 3] and emb["diverged"] == 1
    assert emb["vs_reference"]["u"] == 0 and emb["vs_reference"]["p"] < 0.05  # every good value below every bad
    assert emb["vs_reference"]["n_b"] == 5  # the diverged seed is ranked too (above every finite error)
    assert [r["failed"] for r in summary["references"]] == [False, True]
    assert summary["arm_differences"]["embedding"] == {"model.case": "embedding"}
    metric = [r for r in summary["metrics"] if r["arm"] == "embedding+regularization"][0]
    assert metric["mean"] == pytest.approx(2 * np.mean(good))
    corr = summary["metric_correlations"][0]  # the metric is 2 x the error: a perfect rank correlation
    assert corr["rho"] == pytest.approx(1.0) and corr["n"] == 9
    text = markdown(summary)
    assert "10 of 12 planned runs finished (partial" in text and "| embedding | gauss-newton-30 |" in text
    assert "nearest neighbour (reference)" in text and "3/5" in text


# --- the command on local Ray ---------------------------------------------------------------------

def test_missing_ray_is_one_line(tmp_path, monkeypatch, capsys):
    from latent_nodes.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    assert main(["study", str(MINI), "--out", str(tmp_path / "out"), "--cache", str(tmp_path / "cache")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install ray" in err
    assert not (tmp_path / "cache").exists()


def _results(out: Path) -> dict[str, dict]:
    return {p.name: json.loads(p.read_text())["results"] for p in sorted((out / "runs").glob("*.json"))}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The mini study in one go, through main(), which starts and stops local Ray itself."""
    pytest.importorskip("ray")
    from latent_nodes.cli import main

    root = tmp_path_factory.mktemp("study")
    assert main(["study", str(MINI), "--out", str(root / "a"), "--cache", str(root / "cache"), "--workers", "2"]) == 0
    return root


def test_mini_study_writes_runs_tables_and_plots(uninterrupted):
    from matplotlib.image import imread

    out = uninterrupted / "a"
    spec = load_spec(MINI)
    runs = sorted((out / "runs").glob("*.json"))
    assert len(runs) == 4 and len(list((out / "models").glob("*.pt"))) == 4
    assert len(list((uninterrupted / "cache").glob("*.npz"))) == 1  # one dataset variant, generated once
    record = json.loads(runs[0].read_text())
    assert set(record["results"]["inference"]) == {"gauss-newton-10", "adam-10"}
    for res in record["results"]["inference"].values():
        assert set(res["errors"]) == {"reach", "reach_circle"}
        assert len(res["per_sample"]["reach"]) == 4 and all(e >= 0 for e in res["per_sample"]["reach"])
        assert np.mean(res["per_sample"]["reach"]) == pytest.approx(res["errors"]["reach"])
    assert isinstance(record["results"]["metrics"]["final_regularizer"], float)
    assert record["environment"]["torch_threads"] == 1 and record["environment"]["torch"]
    assert record["timings"]["train_s"] > 0 and record["config"]["train"]["epochs"] == 15
    baselines = json.loads(next((out / "baselines").glob("*.json")).read_text())["predictors"]
    from latent_nodes.baselines import BASELINES

    assert set(baselines) == set(BASELINES)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["finished_runs"] == summary["planned_runs"] == 4
    assert len(summary["rows"]) == len(spec.arms) * len(spec.inference) * 2
    compared = [r for r in summary["rows"] if r["arm"] == "embedding"]
    assert all(r["vs_reference"] is not None and len(r["values"]) == 2 for r in compared)
    text = (out / "summary.md").read_text()
    assert "4 of 4 planned runs finished;" in text and "Gaussian process (reference)" in text
    image = imread(out / "plots" / "errors_grid3.png")
    assert image.shape[0] > 200 and image[..., :3].std() > 0.05
    assert (out / "plots" / "metric_final_regularizer_grid3.png").is_file()


@pytest.fixture(scope="module")
def local_ray(uninterrupted):
    """One local Ray for the tests below (starting Ray takes seconds), after the fixture above stopped its own."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=128 * 2**20)
    yield ray
    ray.shutdown()


def test_interrupted_study_resumes_to_the_same_results(uninterrupted, local_ray, monkeypatch, capsys):
    from latent_nodes.cli import main
    from latent_nodes.study import runner

    out, cache = uninterrupted / "b", uninterrupted / "cache"
    args = ["study", str(MINI), "--out", str(out), "--cache", str(cache), "--workers", "2"]
    assert main(args + ["--max-runs", "1"]) == 0
    assert len(list((out / "runs").glob("*.json"))) == 1
    assert "1 of 4 runs finished" in capsys.readouterr().out
    first = next((out / "runs").glob("*.json"))
    stamp = first.stat().st_mtime_ns

    store = runner._store

    def store_then_ctrl_c(kind, *rest):  # Ctrl-C arrives right after the next run is stored
        store(kind, *rest)
        if kind == "run":
            raise KeyboardInterrupt

    monkeypatch.setattr(runner, "_store", store_then_ctrl_c)
    assert main(args) == 130
    assert "interrupted" in capsys.readouterr().out
    assert len(list((out / "runs").glob("*.json"))) == 2
    monkeypatch.setattr(runner, "_store", store)
    assert main(args) == 0
    log = capsys.readouterr().out
    assert "2 done earlier, 2 to run now" in log and "4 of 4 runs finished" in log
    assert first.stat().st_mtime_ns == stamp  # a finished run is never redone
    assert not list((out / "runs").glob(".*.tmp"))
    assert _results(out) == _results(uninterrupted / "a")
    a = json.loads((uninterrupted / "a" / "summary.json").read_text())
    b = json.loads((out / "summary.json").read_text())
    assert a["rows"] == b["rows"] and a["references"] == b["references"]


def test_a_metric_added_later_is_measured_from_the_stored_models(uninterrupted, local_ray, tmp_path, monkeypatch):
    from latent_nodes.cli import main
    from latent_nodes.study import metrics

    out = tmp_path / "study"
    for part in ("runs", "models", "baselines"):
        shutil.copytree(uninterrupted / "a" / part, out / part)
    spec = yaml.safe_load(MINI.read_text())
    spec["metrics"] = ["final_regularizer", "coords_spread"]
    path = tmp_path / "mini_more.yaml"
    path.write_text(yaml.safe_dump(spec))
    monkeypatch.setitem(metrics.RUN_METRICS, "coords_spread", lambda ctx: float(ctx.model.coords.detach().std()))
    before = _results(out)
    assert main(["study", str(path), "--out", str(out), "--cache", str(uninterrupted / "cache")]) == 0
    after = _results(out)
    assert set(after) == set(before)
    for name, res in after.items():
        assert res["metrics"]["coords_spread"] > 0
        assert res["inference"] == before[name]["inference"]  # nothing retrained or re-evaluated


def test_reference_rows_match_the_table1_command():
    """The study's reference rows and ``latent-nodes table1 --reference-only`` see the same input."""
    from latent_nodes.dataset import Dataset
    from latent_nodes.normalization import Normalizer
    from latent_nodes.scripts.table1 import baseline_rows
    from latent_nodes.study.references import reference_results

    from synthetic import dataset as synthetic

    seqs, labels, xy = synthetic(n_side=4)
    split = np.where(np.arange(len(labels)) % 4 == 1, "test", "train")
    ds = Dataset(sequences=seqs.astype(np.float64), labels=labels, block_xy=xy, split=split,
                 joint_names=tuple(f"j{i}" for i in range(9)), behaviour_names=("reach", "reach_circle"), dt=0.1)
    study = reference_results(ds)
    table1, _ = baseline_rows(ds, Normalizer.fit(ds.train().sequences))
    assert set(study) == set(table1)
    for name, rows in table1.items():
        for behaviour, error in rows.items():
            assert study[name]["errors"][behaviour] == pytest.approx(error, rel=1e-9), name
