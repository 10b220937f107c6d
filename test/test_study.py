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
    ({"name": "x", "base": {"train": {"epochs": "many"}}}, "base.train.epochs = 'many': expected an integer >= 1"),
    ({"name": "x", "base": {"train": {"lr": True}}}, "base.train.lr = true: expected a finite number > 0"),
    ({"name": "x", "base": {"model": {"local_dim": 9}}}, "base.model.local_dim = 9 exceeds base.model.latent_dim"),
    ({"name": "x", "base": {"trian": {}}}, "base: unknown config section 'trian'"),
    ({"name": "x", "ablations": {"a": {"train": {"lamda": 0}}}}, "ablations.a.train.lamda is unknown"),
    ({"name": "x", "cases": ["regularized"]}, "cases: expected a list of"),
    ({"name": "x", "ablations": {"embedding": {}}, "cases": ["embedding"]}, "the name of a case"),
    ({"name": "x", "datasets": {"d": {"noise": 0.01}}}, "datasets.d.noise is unknown"),
    ({"name": "x", "datasets": {"d": {"train_grid": 3}}}, "datasets.d.train_grid = 3: expected a list of 2 integers"),
    ({"name": "x", "datasets": {"d": {"train_layout": "hex"}}}, "datasets.d.train_layout = 'hex': expected one of"),
    ({"name": "x", "inference": [{"method": "sgd"}]}, "inference[0].method = 'sgd': expected one of"),
    ({"name": "x", "test_sets": {"t": {"positions": "moon"}}}, "test_sets.t.positions: 'moon' is not one of"),
    ({"name": "x", "test_sets": {"t": {"k": 3}}}, "test_sets.t: unknown key 'k'"),
    ({"name": "x", "test_sets": {"t": {"observed_steps": 20}}}, "test_sets.t.observed_steps: expected an integer in"),
    ({"name": "x", "test_sets": {"t": {"count": 0}}}, "test_sets.t.count: expected an integer >= 1"),
    ({"name": "x", "test_sets": {"t": {"inner": 0.03, "outer": 0.01}}}, "test_sets.t: expected inner < outer"),
    ({"name": "x", "test_sets": {"t": {"inference": ["adam-7"]}}}, "test_sets.t.inference: expected a non-empty"),
    ({"name": "x", "test_sets": [1]}, "test_sets: expected a mapping"),
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
    assert err == f"latent-nodes study: {path}: base.train.epochs = [1]: expected an integer >= 1"
    path.write_text("name: [unclosed\n")
    assert main(["study", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "not valid YAML" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name, runs, methods", [("table1", 30, 4), ("ablations", 80, 2),
                                                  ("generalization", 210, 2), ("mini", 4, 2)])
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


def test_existing_variants_and_runs_keep_their_keys():
    """New options (test sets, random layouts) leave every finished run of table1 and generalization findable."""
    from latent_nodes.study.plan import plan_runs
    from latent_nodes.study.runner import dataset_keys

    table1 = load_spec(ROOT / "studies" / "table1.yaml")
    assert dataset_keys(table1) == {"default": "sim-9c74fe0f74a6"}
    ids = sorted(j.id for j in plan_runs(table1, dataset_keys(table1)))
    stored = sorted(p.stem for p in (ROOT / "studies" / "results" / "table1" / "runs").glob("*.json"))
    assert ids == stored and len(ids) == 30  # the committed run files are the current plan's
    general = load_spec(ROOT / "studies" / "generalization.yaml")
    keys = dataset_keys(general)
    earlier = {"default": "sim-9c74fe0f74a6", "noise_5mm": "sim-85b9401912c6", "noise_1cm": "sim-fa957c54a7ec",
               "grid_4x4": "sim-7a22c5cf7099", "grid_3x3": "sim-c6e69e5bd3f9"}
    assert {k: v for k, v in keys.items() if k in earlier} == earlier
    assert len(set(keys.values())) == len(keys)  # the random layouts are new variants with keys of their own
    ids = sorted(j.id for j in plan_runs(general, keys) if j.dataset in earlier)
    stored = sorted(p.stem for p in (ROOT / "studies" / "results" / "generalization" / "runs").glob("*.json")
                    if p.stem.split("__")[0] in earlier)
    assert ids == stored and len(ids) == 150


def test_node_and_sim_settings_rename_no_run():
    """Only what decides a run's result names it: a ROS parameter added or changed leaves every id alone."""
    from latent_nodes.study.plan import plan_runs

    base = {"name": "x", "seeds": 1, "cases": ["embedding"], "datasets": {"default": {}}}
    ids = [j.id for j in plan_runs(parse_spec(base), {"default": "k"})]
    nodes = [j.id for j in plan_runs(parse_spec(dict(base, base={"nodes": {"command_rate": 20.0}})), {"default": "k"})]
    model = [j.id for j in plan_runs(parse_spec(dict(base, base={"model": {"latent_dim": 8}})), {"default": "k"})]
    assert ids == nodes and ids != model


def test_test_sets_expand_with_defaults_and_keys():
    from latent_nodes.study.test_sets import evaluation_key, samples_key

    spec = parse_spec({"name": "x", "inference": [{"steps": 30}, {"method": "adam", "steps": 100}],
                       "test_sets": {"p3": {"observed_steps": 3, "inference": ["adam-100"]},
                                     "band": {"positions": "band", "seed": 2}, "rand": {"positions": "random"}}})
    p3, band, rand = spec.test_sets
    assert p3.inference == ("adam-100",) and band.inference == ("gauss-newton-30", "adam-100")
    assert (band.inner, band.outer, band.count) == (0.01, 0.03, 16)
    assert samples_key(p3, "k") is None and samples_key(band, "k") != samples_key(rand, "k")
    assert samples_key(band, "k") != samples_key(band, "other") and samples_key(band, "k").startswith("ts-")
    assert evaluation_key(p3, "k") != evaluation_key(parse_spec(
        {"name": "x", "test_sets": {"p3": {"observed_steps": 2}}}).test_sets[0], "k")


def test_random_layout_is_a_new_dataset_key_and_grid_keeps_its_own():
    from latent_nodes.study.datasets import dataset_key

    spec = parse_spec({"name": "x", "datasets": {"g": {}, "explicit": {"train_layout": "grid"},
                                                 "r": {"train_layout": "random"}}})
    sim = spec.base["sim"]
    g, explicit, r = (dataset_key(spec.datasets[n], sim) for n in ("g", "explicit", "r"))
    assert g == explicit == "sim-9c74fe0f74a6" and r != g


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


def test_rank_correlation_keeps_infinite_metrics_last():
    from latent_nodes.study.aggregate import _spearman

    inf = float("inf")
    # a collapsed chart (+inf) with the largest error: a perfect rank correlation, counted, not dropped
    assert _spearman([1.0, 2.0, 3.0, inf], [0.1, 0.2, 0.3, 0.9]) == pytest.approx(
        {"rho": 1.0, "p": 0.0, "n": 4, "n_inf": 1}, abs=1e-12)
    reversed_ = _spearman([1.0, 2.0, 3.0, inf], [0.9, 0.3, 0.2, 0.1])
    assert reversed_["rho"] == pytest.approx(-1.0) and reversed_["n"] == 4
    assert _spearman([inf, inf, inf], [1.0, 2.0, 3.0]) is None  # all tied: no ranking to correlate


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
    prefix = record["results"]["test_sets"]["prefix_2"]["inference"]
    assert set(prefix) == {"gauss-newton-10"} and len(prefix["gauss-newton-10"]["per_sample"]["reach"]) == 4
    assert record["environment"]["torch_threads"] == 1 and record["environment"]["torch"]
    assert record["timings"]["train_s"] > 0 and record["config"]["train"]["epochs"] == 15
    baselines = json.loads(next((out / "baselines").glob("grid3__sim-*.json")).read_text())["predictors"]
    from latent_nodes.baselines import BASELINES

    assert set(baselines) == set(BASELINES)
    from latent_nodes.study.references import BLOCK_INPUT, predictor_names

    prefix_refs = json.loads(next((out / "baselines").glob("grid3__prefix_2__*.json")).read_text())["predictors"]
    assert set(prefix_refs) == predictor_names(2) == set(BASELINES) | {
        n + BLOCK_INPUT for n in ("polynomial ridge", "IDW k nearest neighbours", "Gaussian process")}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["finished_runs"] == summary["planned_runs"] == 4
    assert len(summary["rows"]) == len(spec.arms) * (len(spec.inference) + 1) * 2  # + the prefix test set
    assert len(list((out / "baselines").glob("*.json"))) == 2  # the test split and the prefix test set
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
    # test sets added later: the variant's own test split again (a known answer: the runs' own errors,
    # recomputed from the stored models) and random positions inside the training hull
    spec["test_sets"] = {**spec["test_sets"], "again": {"inference": ["gauss-newton-10"]},
                         "inside": {"positions": "random", "count": 2, "seed": 1, "inference": ["gauss-newton-10"]}}
    path.write_text(yaml.safe_dump(spec))
    monkeypatch.setitem(metrics.RUN_METRICS, "coords_spread", lambda ctx: float(ctx.model.coords.detach().std()))
    before = _results(out)
    assert main(["study", str(path), "--out", str(out), "--cache", str(uninterrupted / "cache")]) == 0
    after = _results(out)
    assert set(after) == set(before)
    for name, res in after.items():
        assert res["metrics"]["coords_spread"] > 0
        assert res["inference"] == before[name]["inference"]  # nothing retrained or re-evaluated
        assert res["test_sets"]["prefix_2"] == before[name]["test_sets"]["prefix_2"]  # not redone
        again = res["test_sets"]["again"]["inference"]["gauss-newton-10"]
        assert again["errors"] == pytest.approx(res["inference"]["gauss-newton-10"]["errors"], rel=1e-6)
        assert len(res["test_sets"]["inside"]["inference"]["gauss-newton-10"]["per_sample"]["reach"]) == 2
    summary = json.loads((out / "summary.json").read_text())
    inside = [r for r in summary["references"] if r["test_set"] == "inside"]
    assert {r["predictor"] for r in inside} == {r["predictor"] for r in summary["references"]
                                                if r["test_set"] is None}
    assert "### Test set `inside`: 2 positions drawn uniformly inside the training hull" in (
        out / "summary.md").read_text()


def test_reference_rows_match_the_table1_command():
    """The study's reference rows and ``latent-nodes table1 --reference-only`` see the same input."""
    from latent_nodes.data.dataset import Dataset
    from latent_nodes.model.normalization import Normalizer
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
