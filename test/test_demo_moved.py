"""`latent-nodes demo --scenario moved`: both modes run the same seeded trial and write figures and a picture."""

import json

import numpy as np

from latent_nodes.scripts import demo
from latent_nodes.scripts.demo_moved import METRICS, MIN_MOVE, approach_steps, make_trials


def test_trials_move_the_block_far_enough_during_the_approach_and_are_seeded():
    positions = np.array([[0.4, -0.1], [0.45, 0.0], [0.55, 0.1], [0.41, -0.09]])
    trials = make_trials(["reach", "reach_circle"], positions, 20, seed=3)
    assert len(trials) == 8
    for t in trials:
        assert np.linalg.norm(np.subtract(t.block_b, t.block_a)) >= MIN_MOVE
        assert 2 <= t.move_step < approach_steps(t.behaviour, 20)
    again = make_trials(["reach", "reach_circle"], positions, 20, seed=3)
    assert [(t.block_b, t.move_step) for t in again] == [(t.block_b, t.move_step) for t in trials]


def test_moved_scenario_runs_restart_and_online_and_writes_results(tiny_model, tmp_path, capsys):
    out = tmp_path / "demo"
    status = demo.main(["--scenario", "moved", "--model", str(tiny_model), "--behaviours", "reach",
                        "--positions", "0.40", "-0.10", "0.55", "0.10", "--trials", "1", "--out", str(out),
                        "--log-level", "error"])
    printed = capsys.readouterr().out
    assert status == 0, printed
    results = json.loads((out / "moved_results.json").read_text())
    (trial,) = results["trials"]
    assert trial["block_a"] == [0.40, -0.10] and trial["block_b"] == [0.55, 0.10]
    for mode in ("restart", "online"):
        run = trial["runs"][mode]
        assert run["ok"], run["note"]
        assert run["trajectories"] >= 2, "the move produced a new plan"
        assert run["path_after_move_m"] > 0 and run["time_to_closest_s"] >= 0 and run["closest_mm"] >= 0
        assert len(run["path"]) > 100 and 0 < run["move_index"] < len(run["path"])
        for key in (*METRICS, "path_ratio"):
            assert results["summary"][mode][key]["max"] >= results["summary"][mode][key]["median"]
    assert results["summary"]["completed_in_both"] == 1
    assert (out / "moved_paths.png").stat().st_size > 10_000
    assert "restart" in printed and "online" in printed and "1 of 1 trials completed in both modes" in printed
