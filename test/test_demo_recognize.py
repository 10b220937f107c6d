"""`latent-nodes demo --scenario recognize`: decisions and held plans per k, and one real run on the tiny model."""

import json
import math

import numpy as np

from latent_nodes.scripts import demo
from latent_nodes.scripts.demo_recognize import per_k, summarize


def test_per_k_takes_the_decision_and_the_plan_held_after_k_steps():
    demo_tips = np.zeros((5, 3))
    plans = [np.full((5, 1), 1.0), np.full((5, 1), 2.0)]  # fingertip = the joint value on x (a fake fk)
    results = [{"step": 0, "decision": "undecided", "published": False, "errors": {"a": 1e-5, "b": 2e-5}},
               {"step": 1, "decision": "a", "published": True, "errors": {"a": 1e-4, "b": 5e-2}},
               {"step": 3, "decision": "a", "published": True, "errors": {"a": 2e-4, "b": 9e-2}}]  # step 2 skipped
    rows = per_k("a", results, plans, demo_tips, lambda q: np.array([q[0], 0.0, 0.0]), 5)
    assert [r["decision"] for r in rows] == ["undecided", "a", "a", "a"]
    assert [r["right"] for r in rows] == [False, True, True, True]
    assert all(r["ranked_right"] for r in rows)
    assert math.isnan(rows[0]["completion_error_mm"])
    assert rows[1]["completion_error_mm"] == rows[2]["completion_error_mm"] == 1000.0  # the first plan held
    assert rows[3]["completion_error_mm"] == 2000.0  # the update published at step 3
    summary = summarize([{"ok": True, "per_k": rows}], 5)
    assert summary["accuracy"] == [0.0, 1.0, 1.0, 1.0] and summary["smallest_k_95"] == 2
    assert summary["abstained"][0] == 1.0 and summary["wrong"] == [0.0] * 4


def test_recognize_scenario_runs_and_writes_results(tiny_model, tmp_path, capsys):
    out = tmp_path / "demo"
    status = demo.main(["--scenario", "recognize", "--model", str(tiny_model), "--behaviours", "reach",
                        "--positions", "0.45", "0.05", "--out", str(out), "--log-level", "error"])
    printed = capsys.readouterr().out
    assert status == 0, printed
    results = json.loads((out / "recognize_results.json").read_text())
    (trial,) = results["trials"]
    assert trial["ok"] and [r["k"] for r in trial["per_k"]] == list(range(1, 20))
    assert len(trial["steps_observed"]) >= 15, "the node observed the shown demonstration step by step"
    assert all(r["errors"].keys() == {"reach", "reach_circle"} for r in trial["per_k"])
    summary = results["summary"]
    assert summary["completed"] == 1 and len(summary["accuracy"]) == 19
    assert all(0.0 <= a <= 1.0 for a in summary["accuracy"] + summary["abstained"] + summary["wrong"])
    assert (out / "recognize_accuracy.png").stat().st_size > 10_000
    assert "smallest k with at least 95 % accuracy" in printed
