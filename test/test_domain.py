"""The model's domain: hull distances with known answers, the record in the model file, the policy."""

import math
import warnings

import numpy as np
import pytest
import torch

from latent_nodes.inference.completion import BehaviourCompleter, InvalidObservation, OutOfDomain
from latent_nodes.inference.domain import Domain, hull_distance, median_spacing
from latent_nodes.model.checkpoint import ModelFileWarning, load_checkpoint, save_checkpoint

SQUARE = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.5, 0.5]])


@pytest.mark.parametrize("x, expected", [
    ([0.5, 0.5], 0.0), ([0.0, 0.0], 0.0), ([0.2, 0.9], 0.0),  # inside and on a vertex
    ([1.5, 0.5], 0.5), ([0.5, -0.25], 0.25),  # beside an edge
    ([2.0, 2.0], math.sqrt(2.0)), ([-3.0, -4.0], 5.0),  # beyond a corner
])
def test_hull_distance_in_the_plane(x, expected):
    assert hull_distance(SQUARE, np.array(x)) == pytest.approx(expected, abs=1e-9)


def test_hull_distance_in_four_dimensions():
    simplex = np.vstack([np.zeros(4), np.eye(4)])  # the corner simplex: x >= 0, sum x <= 1
    assert hull_distance(simplex, np.full(4, 0.1)) == 0.0
    assert hull_distance(simplex, np.full(4, 0.5)) == pytest.approx(0.5, abs=1e-9)  # (2 - 1) / sqrt(4)
    assert hull_distance(simplex, np.array([-1.0, 0.2, 0.2, 0.0])) == pytest.approx(1.0, abs=1e-9)


def test_hull_distance_refuses_mismatched_dimensions():
    with pytest.raises(ValueError, match="do not match"):
        hull_distance(SQUARE, np.zeros(3))


def test_median_spacing_of_a_grid():
    grid = np.stack(np.meshgrid(np.arange(5) * 0.0625, np.arange(5) * 0.1), -1).reshape(-1, 2)
    assert median_spacing(grid) == pytest.approx(0.0625)


def test_domain_groups_by_behaviour_and_measures_charts_in_spacings():
    xy = np.concatenate([SQUARE, SQUARE + 10.0])
    coords = 2.0 * xy  # a chart that is the block plane scaled by 2
    domain = Domain.from_samples(xy, np.repeat([0, 1], 5), coords)
    assert domain.pose_distance(np.array([1.5, 0.5]), 0) == pytest.approx(0.5)
    assert domain.pose_distance(np.array([1.5, 0.5]), 1) > 8.0
    # 1.0 outside in chart units, the samples' nearest-neighbour spacing is 2 * sqrt(0.5).
    assert domain.chart_distance(np.array([3.0, 1.0]), 0) == pytest.approx(1.0 / (2 * math.sqrt(0.5)))
    assert domain.describe(0) == "x 0.000-1.000, y 0.000-1.000 m, 5 positions"
    assert math.isnan(domain.pose_distance(np.zeros(2), 7))


@pytest.fixture(scope="module")
def shipped():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelFileWarning)
        return BehaviourCompleter.from_checkpoint()


def test_model_file_records_its_domain(tmp_path, shipped):
    path = tmp_path / "m.pt"
    save_checkpoint(path, shipped.ckpt)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ModelFileWarning)  # a file with a record loads without a warning
        loaded = load_checkpoint(path)
    for p in (0, 1):
        np.testing.assert_array_equal(loaded.domain.block_xy[p], shipped.ckpt.domain.block_xy[p])
        np.testing.assert_array_equal(loaded.domain.coords[p], shipped.ckpt.domain.coords[p])
        assert loaded.domain.block_xy[p].shape == (25, 2) and loaded.domain.coords[p].shape == (25, 2)
    assert shipped.describe_domain("reach") == "x 0.350-0.600, y -0.200-0.200 m, 25 positions"


def _old_file(path, ckpt, keep_positions: bool) -> None:
    """A model file as older versions wrote it: no domain record (and, older still, no positions)."""
    save_checkpoint(path, ckpt)
    data = torch.load(path, weights_only=True)
    del data["domain"]
    if not keep_positions:
        data["sample_block_xy"] = None
    torch.save(data, path)


def test_old_model_file_loads_with_a_warning_and_a_derived_domain(tmp_path, shipped):
    path = tmp_path / "old.pt"
    _old_file(path, shipped.ckpt, keep_positions=True)
    with pytest.warns(ModelFileWarning, match="records no domain"):
        completer = BehaviourCompleter.from_checkpoint(path)
    assert completer.ckpt.domain.describe(1) == shipped.ckpt.domain.describe(1)
    with pytest.raises(OutOfDomain):
        completer.complete((0.30, 0.0), "reach")


def test_old_model_file_without_positions_loads_and_cannot_judge(tmp_path, shipped):
    path = tmp_path / "older.pt"
    _old_file(path, shipped.ckpt, keep_positions=False)
    with pytest.warns(ModelFileWarning, match="cannot be recognized"):
        completer = BehaviourCompleter.from_checkpoint(path)
    assert completer.ckpt.domain is None
    completion = completer.complete((0.30, 0.0), "reach")  # no record: nothing to refuse with
    assert math.isnan(completion.domain.pose_distance) and completion.warning is None


@pytest.mark.parametrize("behaviour", ["reach", "reach_circle"])
@pytest.mark.parametrize("xy, outside", [
    ((0.30, 0.00), 0.05), ((0.63, 0.10), 0.03), ((0.45, -0.29), 0.09), ((0.75, 0.40), 0.25),
    ((0.62, 0.22), math.sqrt(2) * 0.02),
])
def test_poses_outside_the_domain_are_refused(shipped, behaviour, xy, outside):
    with pytest.raises(OutOfDomain) as refusal:
        shipped.complete(xy, behaviour)
    message = str(refusal.value)
    assert isinstance(refusal.value, InvalidObservation)
    assert f"({xy[0]:.3f}, {xy[1]:.3f}) m is {outside:.3f} m outside" in message
    assert f"{behaviour!r} was trained on (x 0.350-0.600, y -0.200-0.200 m" in message and "margin 0.02 m" in message


@pytest.mark.parametrize("xy, outside", [((0.47, 0.05), 0.0), ((0.35, -0.20), 0.0), ((0.615, 0.0), 0.015)])
def test_poses_inside_or_within_the_margin_are_completed(shipped, xy, outside):
    completion = shipped.complete(xy, "reach_circle")
    assert completion.domain.pose_distance == pytest.approx(outside, abs=1e-9)
    assert completion.warning is None
    assert completion.domain.chart_distance < 0.5  # inferred coordinates stay near the training cloud


def test_warn_and_allow_policies(shipped):
    far = (0.70, 0.30)
    warned = shipped.with_settings(out_of_domain="warn").complete(far, "reach")
    assert warned.domain.pose_distance == pytest.approx(math.hypot(0.1, 0.1))
    assert "0.141 m outside the region 'reach' was trained on" in warned.warning
    allowed = shipped.with_settings(out_of_domain="allow").complete(far, "reach")
    assert allowed.warning is None
    np.testing.assert_allclose(allowed.joints, warned.joints)
    # The chart sees it too: the coordinates land well outside the training cloud.
    assert allowed.domain.chart_distance > 1.0
    # A wider margin takes the pose in.
    assert shipped.with_settings(domain_margin=0.15).complete(far, "reach").warning is None


@pytest.mark.parametrize("kwargs, expected", [
    ({"out_of_domain": "ignore"}, "expected one of"), ({"domain_margin": -0.01}, "metres >= 0"),
    ({"domain_margin": float("nan")}, "metres >= 0"),
])
def test_policy_settings_are_checked(shipped, kwargs, expected):
    with pytest.raises(ValueError, match=expected):
        shipped.with_settings(**kwargs)


def test_a_domain_record_that_does_not_fit_the_model_is_refused(tmp_path, shipped):
    from latent_nodes.model.checkpoint import CheckpointError

    path = tmp_path / "bad.pt"
    save_checkpoint(path, shipped.ckpt)
    data = torch.load(path, weights_only=True)
    data["domain"]["coords"][0] = torch.zeros(25, 3)  # 3-D coordinates for a 2-D chart
    torch.save(data, path)
    with pytest.raises(CheckpointError, match="does not fit the model"):
        load_checkpoint(path)
    data["domain"]["coords"][0] = torch.full((25, 2), float("nan"))
    torch.save(data, path)
    with pytest.raises(CheckpointError, match="unreadable domain record.*non-finite"):
        load_checkpoint(path)


def test_results_without_a_domain_are_strict_json():
    import json

    from latent_nodes.nodes import messages

    msg = messages.json_string({"pose_distance_m": float("nan"), "xi": np.array([0.1, np.inf]), "n": np.int64(3)})
    assert json.loads(msg.data) == {"pose_distance_m": None, "xi": [0.1, None], "n": 3}
