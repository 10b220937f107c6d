"""Scripted demonstrations: the Fig. 3 grid, the behaviours' shapes (the paper's two, double_tap), seeds, command."""

from dataclasses import replace

import numpy as np
import pytest

from latent_nodes.config import BEHAVIOURS, DataConfig, SimConfig
from latent_nodes.data.dataset import load_dataset, save_dataset
from latent_nodes.scripts import dataset as dataset_command
from latent_nodes.sim import arm, kinematics
from latent_nodes.sim.demonstrations import (
    DEMONSTRATIONS,
    generate_dataset,
    generate_demonstration,
    joint_references,
    make_script,
    train_test_positions,
)

SMALL = DataConfig(train_grid=[2, 2], test_grid=[1, 1])


@pytest.fixture(scope="module")
def default_dataset():
    """The full default dataset (2 behaviours x 41 positions, seeded perturbation): a few seconds."""
    return generate_dataset(DataConfig(), SimConfig())


def fingertips(seq: np.ndarray) -> np.ndarray:
    return np.array([kinematics.forward_kinematics(q) for q in seq[:, :9]])


def swept_angle(seq: np.ndarray, min_radius: float = 0.02) -> float:
    """Degrees the fingertip turns around the block's vertical axis, from the recorded steps.

    Steps closer to the axis than ``min_radius`` are left out: right above the block the angle is
    meaningless, and counting it would let a plain reach look like a circle.
    """
    rel = fingertips(seq)[:, :2] - seq[0, 9:11]
    rel = rel[np.linalg.norm(rel, axis=1) >= min_radius]
    if len(rel) < 2:
        return 0.0
    angle = np.unwrap(np.arctan2(rel[:, 1], rel[:, 0]))
    return float(np.degrees(angle.max() - angle.min()))


# --- positions ----------------------------------------------------------------------------------------


def test_default_positions_are_the_grid_and_its_cell_centres():
    sim = SimConfig()
    train, test = train_test_positions(DataConfig(), sim)
    assert train.shape == (25, 2) and test.shape == (16, 2)
    np.testing.assert_allclose([train[:, 0].min(), train[:, 0].max()], sim.workspace_x)
    np.testing.assert_allclose([train[:, 1].min(), train[:, 1].max()], sim.workspace_y)
    # Each test position is a cell centre: its four nearest training positions are equally far, at the corners.
    for xy in test:
        d = np.sort(np.linalg.norm(train - xy, axis=1))
        np.testing.assert_allclose(d[:4], d[0])
        assert d[4] > d[0] + 1e-6
    assert min(np.linalg.norm(train - xy, axis=1).min() for xy in test) > 0.03


def test_grids_are_configurable():
    train, test = train_test_positions(DataConfig(train_grid=[3, 4], test_grid=[2, 2]), SimConfig())
    assert train.shape == (12, 2) and test.shape == (4, 2)
    assert len(train_test_positions(DataConfig(test_grid=[0, 0]))[1]) == 0


@pytest.mark.parametrize("data, match", [
    (DataConfig(train_grid=[1, 5]), "train_grid"),
    (DataConfig(train_grid=[5]), "train_grid"),
    (DataConfig(test_grid=[-1, 2]), "test_grid"),
    (DataConfig(train_grid=[3, 3], test_grid=[1, 1]), "on a training position"),
])
def test_bad_grids_are_clear_errors(data, match):
    with pytest.raises(ValueError, match=match):
        train_test_positions(data, SimConfig())


# --- the behaviours -----------------------------------------------------------------------------------


def test_every_default_demonstration_is_smooth_within_limits_and_returns_home(default_dataset):
    ds = default_dataset
    q = ds.sequences[:, :, :9]
    assert ds.sequences.shape == (82, 20, 11)
    assert np.all(q >= arm.JOINT_LOWER) and np.all(q <= arm.JOINT_UPPER)
    speeds = np.abs(np.diff(q, axis=1)) / ds.dt
    assert np.all(speeds <= arm.MAX_VELOCITY)
    np.testing.assert_allclose(q[:, 0], np.broadcast_to(arm.HOME, q[:, 0].shape), atol=1e-9)  # all start at home
    # Smooth: no step changes velocity by more than what the arm's servos can do in 0.1 s.
    assert np.abs(np.diff(speeds, axis=1)).max() < 2.0
    # The block stays where it was put (the arm never touches it) and the perception columns say so.
    np.testing.assert_allclose(ds.sequences[:, :, 9:], np.repeat(ds.block_xy[:, None, :], 20, axis=1), atol=1e-4)


def test_behaviour_1_approaches_the_block_and_ends_at_home(default_dataset):
    ds = default_dataset
    home_tip = kinematics.forward_kinematics(arm.HOME)
    for seq in ds.sequences[ds.labels == BEHAVIOURS.index("reach")]:
        np.testing.assert_allclose(seq[-1, :9], arm.HOME, atol=0.01)
        tips = fingertips(seq)
        assert np.linalg.norm(tips[-1] - home_tip) < 0.005
        closest = np.linalg.norm(tips[:, :2] - seq[0, 9:11], axis=1).min()
        assert closest < 0.03  # it really goes to the block ...
        assert tips[:, 2].min() > SimConfig().block_size + 0.01  # ... and hovers above it
        assert swept_angle(seq) < 120  # out and back, no circle


def test_behaviour_2_circles_the_block(default_dataset):
    ds = default_dataset
    for seq in ds.sequences[ds.labels == BEHAVIOURS.index("reach_circle")]:
        assert swept_angle(seq) >= 300
        np.testing.assert_allclose(seq[-1, :9], arm.HOME, atol=0.01)
        tips = fingertips(seq)
        radius = np.linalg.norm(tips[:, :2] - seq[0, 9:11], axis=1)
        assert radius[7:12].max() < 0.08 and radius[7:12].min() > 0.015  # near the block, around it


@pytest.fixture(scope="module")
def three_behaviours():
    """The small grid with the third behaviour added (15 demonstrations: about a second)."""
    return generate_dataset(SMALL, SimConfig(), behaviours=DEMONSTRATIONS)


def test_double_tap_dips_twice_above_the_block_without_touching_it(three_behaviours):
    ds = three_behaviours
    top = SimConfig().block_size
    taps = ds.sequences[ds.labels == DEMONSTRATIONS.index("double_tap")]
    assert len(taps) == 5
    for seq in taps:
        np.testing.assert_allclose(seq[0, :9], arm.HOME, atol=1e-9)
        np.testing.assert_allclose(seq[-1, :9], arm.HOME, atol=0.01)
        tips = fingertips(seq)
        assert np.linalg.norm(tips[6:14, :2] - seq[0, 9:11], axis=1).max() < 0.01  # right above the block
        z = tips[6:14, 2]
        # Two dips: two local minima of the height while above the block, each at least 1.5 cm below hover.
        minima = [k for k in range(1, len(z) - 1) if z[k] < z[k - 1] and z[k] <= z[k + 1]]
        assert len(minima) == 2 and all(z.max() - z[k] > 0.015 for k in minima), z
        assert tips[:, 2].min() > top + 0.01  # never down on the block ...
        np.testing.assert_allclose(seq[:, 9:], np.repeat(seq[:1, 9:], len(seq), axis=0), atol=1e-4)  # ... it stays
    assert swept_angle(taps[0]) < 120


def test_a_third_behaviour_leaves_the_paper_twos_samples_as_they_were(three_behaviours):
    two = generate_dataset(SMALL, SimConfig())
    three = three_behaviours
    assert three.behaviour_names == DEMONSTRATIONS and len(three) == 15
    np.testing.assert_array_equal(three.sequences[:10], two.sequences)
    assert set(three.settings["phases"]) == set(DEMONSTRATIONS) and set(two.settings["phases"]) == set(BEHAVIOURS)
    # Any subset, in any order: the labels follow the order given, each sample is its script's.
    tap_only = generate_dataset(SMALL, SimConfig(), behaviours=["double_tap"])
    assert tap_only.behaviour_names == ("double_tap",) and set(tap_only.labels) == {0}
    np.testing.assert_array_equal(tap_only.sequences, three.sequences[10:])
    for bad in ([], ["wave"], ["reach", "reach"]):
        with pytest.raises(ValueError, match="distinct names of the demonstrator's scripts"):
            generate_dataset(SMALL, SimConfig(), behaviours=bad)


def test_scripted_joint_speeds_stay_under_the_rated_speeds():
    for behaviour in DEMONSTRATIONS:
        for xy in train_test_positions()[0][[0, 4, 20, 24]]:  # the workspace's corners are the hardest
            refs = joint_references(make_script(behaviour, xy, np.random.default_rng(7), SimConfig(), DataConfig()))
            peak = np.abs(np.diff(refs, axis=0)).max(axis=0) * 100.0
            assert np.all(peak <= arm.MAX_VELOCITY), (behaviour, xy, peak)


def test_generation_is_deterministic_for_a_seed():
    a = generate_demonstration("reach_circle", (0.5, 0.1), np.random.default_rng(3))
    b = generate_demonstration("reach_circle", (0.5, 0.1), np.random.default_rng(3))
    c = generate_demonstration("reach_circle", (0.5, 0.1), np.random.default_rng(4))
    clean = generate_demonstration("reach_circle", (0.5, 0.1), None)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-3  # the perturbation is real ...
    assert np.abs(a - clean)[:, :9].max() < 0.3  # ... and small
    zero = generate_demonstration("reach_circle", (0.5, 0.1), np.random.default_rng(3),
                                  data_cfg=replace(DataConfig(), perturbation=0.0))
    np.testing.assert_array_equal(zero, clean)


def test_bad_requests_are_clear_errors():
    with pytest.raises(ValueError, match="unknown behaviour"):
        generate_demonstration("wave", (0.5, 0.0))
    with pytest.raises(ValueError, match="off the table"):
        generate_demonstration("reach", (1.5, 0.0))
    with pytest.raises(ValueError, match="block_xy"):
        generate_demonstration("reach", (0.5, 0.0, 0.1))


# --- datasets -----------------------------------------------------------------------------------------


def test_dataset_has_both_behaviours_everywhere_and_keeps_test_positions_out_of_training():
    ds = generate_dataset(SMALL, SimConfig())
    train, test = train_test_positions(SMALL, SimConfig())
    assert len(ds) == 2 * (len(train) + len(test))
    for b in range(len(BEHAVIOURS)):
        np.testing.assert_allclose(ds.block_xy[(ds.labels == b) & ~ds.is_test], train)
        np.testing.assert_allclose(ds.block_xy[(ds.labels == b) & ds.is_test], test)
    tr = ds.train()
    for xy in ds.test().block_xy:
        assert np.linalg.norm(tr.block_xy - xy, axis=1).min() > 0.05
    assert ds.joint_names == arm.JOINT_NAMES and ds.behaviour_names == BEHAVIOURS and ds.dt == SimConfig().dt
    assert ds.settings["data"]["seed"] == SMALL.seed and ds.settings["sim"]["workspace_x"] == SimConfig().workspace_x


def test_same_seed_same_bytes(tmp_path):
    paths = []
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        paths.append(save_dataset(generate_dataset(replace(SMALL, seed=seed), SimConfig()), tmp_path / f"{name}.npz"))
    a, b, c = (p.read_bytes() for p in paths)
    assert a == b
    assert a != c


def test_the_dataset_command_writes_and_describes_a_file(tmp_path, capsys):
    out = tmp_path / "d.npz"
    assert dataset_command.main(["--train-grid", "2", "2", "--test-grid", "1", "1", "--seed", "5", "--out",
                                 str(out)]) == 0
    ds = load_dataset(out)
    assert len(ds) == 10 and ds.settings["data"]["seed"] == 5
    assert dataset_command.main(["--info", str(out)]) == 0
    assert "10 sequences of 20 steps x 11 outputs" in capsys.readouterr().out
    assert dataset_command.main(["--info", str(tmp_path / "missing.npz")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert dataset_command.main(["--train-grid", "3", "3", "--test-grid", "1", "1", "--out", str(out)]) == 2
    assert "training position" in capsys.readouterr().err
    assert dataset_command.main(["--train-grid", "2", "2", "--test-grid", "0", "0", "--behaviours", "double_tap",
                                 "reach", "--out", str(out)]) == 0
    assert load_dataset(out).behaviour_names == ("double_tap", "reach")
    assert dataset_command.main(["--behaviours", "wave", "--out", str(out)]) == 2
    assert "demonstrator's scripts" in capsys.readouterr().err


# --- positions beyond the grid: random layouts, random unseen positions, an extrapolation band -----

def test_random_layout_keeps_the_corners_and_stays_clear_of_test_positions():
    from latent_nodes.sim.demonstrations import LAYOUT_MIN_GAP

    sim = SimConfig()
    data = DataConfig(train_layout="random")
    train, test = train_test_positions(data, sim)
    grid_train, grid_test = train_test_positions(DataConfig(), sim)
    assert train.shape == grid_train.shape and np.array_equal(test, grid_test)
    corners = {(x, y) for x in sim.workspace_x for y in sim.workspace_y}
    assert {tuple(p) for p in train[:4]} == corners  # the training region is the grid's
    assert not np.array_equal(train, grid_train)
    inside = ((train >= [sim.workspace_x[0], sim.workspace_y[0]]) & (train <= [sim.workspace_x[1], sim.workspace_y[1]]))
    assert inside.all()
    gaps = np.linalg.norm(train[:, None] - np.vstack([train, test])[None], axis=-1)
    gaps[np.arange(len(train)), np.arange(len(train))] = np.inf
    assert gaps.min() >= LAYOUT_MIN_GAP - 1e-12
    again, _ = train_test_positions(data, sim)
    other, _ = train_test_positions(DataConfig(train_layout="random", seed=1), sim)
    assert np.array_equal(train, again) and not np.array_equal(train, other)


def test_hull_positions_are_inside_and_seeded():
    from scipy.spatial import Delaunay

    from latent_nodes.sim.demonstrations import hull_positions

    triangle = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    p = hull_positions(triangle, 500, seed=3)
    assert p.shape == (500, 2) and (Delaunay(triangle).find_simplex(p) >= 0).all()
    assert abs(p.mean(axis=0) - 1 / 3).max() < 0.03  # uniform over the triangle: its centroid
    assert np.array_equal(p, hull_positions(triangle, 500, seed=3))
    assert not np.array_equal(p, hull_positions(triangle, 500, seed=4))


def test_band_positions_lie_between_inner_and_outer_distance():
    from latent_nodes.sim.demonstrations import band_positions

    square = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.5, 0.5]])
    p = band_positions(square, 200, inner=0.01, outer=0.03, seed=2)
    # distance to the unit square, computed directly
    d = np.linalg.norm(np.maximum(np.maximum(-p, p - 1.0), 0.0), axis=1)
    assert p.shape == (200, 2) and d.min() >= 0.01 - 1e-9 and d.max() <= 0.03 + 1e-9
    assert np.array_equal(p, band_positions(square, 200, inner=0.01, outer=0.03, seed=2))
    with pytest.raises(ValueError, match="inner < outer"):
        band_positions(square, 1, inner=0.03, outer=0.01, seed=0)


def test_generate_samples_demonstrates_both_behaviours_at_given_positions():
    from latent_nodes.sim.demonstrations import generate_samples

    xy = np.array([[0.40, 0.05]])
    ds = generate_samples(xy, seed=5)
    assert ds.sequences.shape == (2, 20, 11) and list(ds.labels) == [0, 1] and set(ds.split) == {"test"}
    np.testing.assert_allclose(ds.sequences[:, 0, 9:], np.repeat(xy, 2, axis=0), atol=1e-3)
    assert np.array_equal(ds.sequences, generate_samples(xy, seed=5).sequences)
    assert not np.array_equal(ds.sequences, generate_samples(xy, seed=6).sequences)  # its own noise stream
