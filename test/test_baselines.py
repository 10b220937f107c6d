"""The reference predictors, each on a case whose answer is known."""

import numpy as np
import pytest

from latent_nodes.baselines import (
    BASELINES,
    contextual_promp,
    gaussian_process,
    idw_nearest_neighbours,
    nearest_neighbour,
    polynomial_ridge,
)

T, O = 20, 11


def grid(n: int = 5) -> np.ndarray:
    """n x n positions over [-1, 1]^2 (normalized units), like the training grid."""
    g = np.linspace(-1.0, 1.0, n)
    return np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)


def cubic_sequences(xy: np.ndarray) -> np.ndarray:
    """[N, T, O]: every output an exact cubic polynomial of the position (block dims: the position itself)."""
    t = np.linspace(0.0, 1.0, T)
    x, y = xy[:, 0, None], xy[:, 1, None]
    out = np.zeros((len(xy), T, O))
    for j in range(9):
        out[:, :, j] = (0.3 * x ** 3 - 0.2 * x * y ** 2 + (0.1 + j / 20) * x * y + 0.5 * y - 0.1 * j) * np.sin(t + j)
    out[:, :, 9], out[:, :, 10] = x, y
    return out


def test_polynomial_ridge_recovers_an_exact_polynomial_and_picks_its_degree():
    train_xy = grid(5)
    test_xy = np.random.default_rng(0).uniform(-0.9, 0.9, (30, 2))
    info: dict = {}
    pred = polynomial_ridge(train_xy, cubic_sequences(train_xy), test_xy, info=info)
    assert pred.shape == (30, T, O)
    assert np.abs(pred - cubic_sequences(test_xy)).max() < 1e-3
    assert info["degree"] >= 3  # lower degrees cannot fit a cubic; validation sees it


def test_polynomial_degree_is_chosen_without_test_positions():
    # Same training data, different test positions: the same choice (it never looks at them).
    train_xy = grid(4)
    seq = cubic_sequences(train_xy) + 0.01 * np.random.default_rng(1).standard_normal((16, T, O))
    a, b = {}, {}
    polynomial_ridge(train_xy, seq, np.zeros((1, 2)), info=a)
    polynomial_ridge(train_xy, seq, np.ones((3, 2)), info=b)
    assert a == b


def test_idw_neighbours_at_a_training_position_return_that_sample():
    train_xy = grid(5)
    seq = np.random.default_rng(2).standard_normal((25, T, O))
    pred = idw_nearest_neighbours(train_xy, seq, train_xy[[3, 17]])
    assert np.allclose(pred, seq[[3, 17]], atol=1e-12)


def test_idw_weights_are_inverse_distances():
    train_xy = np.array([[0.0, 0.0], [1.0, 0.0], [5.0, 5.0]])
    seq = np.zeros((3, T, O))
    seq[0], seq[1], seq[2] = 1.0, 4.0, 100.0
    pred = idw_nearest_neighbours(train_xy, seq, np.array([[0.25, 0.0]]), ks=(2,))
    # Distances 0.25 and 0.75: weights 4 and 4/3, so (4 * 1 + 4/3 * 4) / (4 + 4/3) = 1.75.
    assert np.allclose(pred, 1.75)


def test_nearest_neighbour_copies_the_neighbour_with_the_observed_block():
    train_xy = grid(3)
    seq = np.random.default_rng(3).standard_normal((9, T, O))
    test_xy = np.array([[0.9, -0.95], [0.1, 0.05]])
    pred = nearest_neighbour(train_xy, seq, test_xy)
    assert np.array_equal(pred[0, :, :9], seq[2, :, :9])  # nearest to (1, -1)
    assert np.array_equal(pred[1, :, :9], seq[4, :, :9])  # nearest to (0, 0)
    assert np.array_equal(pred[:, :, 9:], np.repeat(test_xy[:, None, :], T, axis=1))
    assert not np.array_equal(seq[2, :, 9:], pred[0, :, 9:]), "the neighbour's own block was replaced"


def test_gaussian_process_and_promp_interpolate_a_smooth_family():
    # Both kept rows, on data that is smooth in the position: predictions between training positions
    # must be close to the truth, far closer than the spread of the data.
    train_xy = grid(5)
    test_xy = (grid(4) * 0.75)  # the cell centres
    truth = cubic_sequences(test_xy)
    spread = ((cubic_sequences(train_xy) - cubic_sequences(train_xy).mean(0)) ** 2).sum(-1).mean()
    for predict in (gaussian_process, contextual_promp):
        info: dict = {}
        error = ((predict(train_xy, cubic_sequences(train_xy), test_xy, info=info) - truth) ** 2).sum(-1).mean()
        assert error < 0.05 * spread, predict.__name__
        assert info, "records its settings"


@pytest.mark.parametrize("name", ["polynomial ridge", "IDW k nearest neighbours"])
def test_validated_baselines_are_deterministic_and_record_their_choices(name):
    train_xy = grid(4)
    seq = cubic_sequences(train_xy) + 0.02 * np.random.default_rng(4).standard_normal((16, T, O))
    a_info, b_info = {}, {}
    a = BASELINES[name](train_xy, seq, grid(3) * 0.5, info=a_info)
    b = BASELINES[name](train_xy, seq, grid(3) * 0.5, info=b_info)
    assert a.shape == (9, T, O) and np.isfinite(a).all()
    assert np.array_equal(a, b) and a_info == b_info and a_info


# --- a longer observation: the first k steps as well as the block ------------------------------------

def prefix_mask(k: int) -> np.ndarray:
    mask = np.zeros((T, O), dtype=bool)
    mask[0, 9:] = True
    mask[:k] = True
    return mask


def test_observed_inputs_are_the_observed_values_in_step_order():
    from latent_nodes.baselines import observed_inputs

    seq = np.arange(2 * T * O, dtype=float).reshape(2, T, O)
    assert np.array_equal(observed_inputs(seq, prefix_mask(0)), seq[:, 0, 9:])  # the paper's block (x, y)
    x = observed_inputs(seq, prefix_mask(2))
    assert x.shape == (2, 2 * O) and np.array_equal(x, seq[:, :2].reshape(2, -1))


def test_nearest_neighbour_writes_the_whole_observed_prefix():
    from latent_nodes.baselines import Observation, observed_inputs

    train_xy = grid(3)
    seq = np.random.default_rng(5).standard_normal((9, T, O))
    seq[:, :, 9:] = train_xy[:, None, :]
    test = seq[[4]] + 0.01  # near training sample 4
    mask = prefix_mask(3)
    pred = nearest_neighbour(observed_inputs(seq, mask), seq, observed_inputs(test, mask),
                             observed=Observation(mask, test))
    assert np.array_equal(pred[0, :3], test[0, :3])  # the observed steps are the observation
    assert np.array_equal(pred[0, 3:, :9], seq[4, 3:, :9])  # the rest is the neighbour's
    assert np.array_equal(pred[0, :, 9:], np.repeat(test[0, :1, 9:], T, axis=0))  # the observed block throughout


def test_promp_via_points_reproduce_the_observed_prefix_and_help():
    # Conditioning on the first steps as via points: the completion passes through them, and on data
    # whose early motion says more than the block does, the error of the rest falls.
    from latent_nodes.baselines import Observation, observed_inputs

    rng = np.random.default_rng(6)
    train_xy = grid(5)
    test_xy = grid(4) * 0.75
    hidden = rng.uniform(-0.5, 0.5, size=(len(train_xy) + len(test_xy), 1, 1))  # not a function of the block
    t = np.linspace(0.0, 1.0, T)[None, :, None]

    def family(xy, h):
        out = cubic_sequences(xy)
        out[:, :, :9] += h * np.cos(3 * t)  # an offset the block does not predict, visible from the first steps
        return out

    train_seq, truth = family(train_xy, hidden[:25]), family(test_xy, hidden[25:])
    errors = {}
    for k in (0, 4):
        mask = prefix_mask(k)
        info: dict = {}
        pred = contextual_promp(observed_inputs(train_seq, mask), train_seq, observed_inputs(truth, mask), info=info,
                                observed=Observation(mask, truth) if k else None)
        if k:
            assert info["via_steps"] == [0, 1, 2, 3]
            assert np.abs(pred[:, :k] - truth[:, :k]).max() < 0.02  # through the via points
        errors[k] = ((pred[:, k:] - truth[:, k:]) ** 2).sum(-1).mean()
    assert errors[4] < 0.5 * errors[0]


def test_polynomial_ridge_skips_degrees_with_too_many_features():
    from latent_nodes.baselines import MAX_POLYNOMIAL_FEATURES

    rng = np.random.default_rng(7)
    x = rng.uniform(-1, 1, (25, 40))  # 40 inputs: degree 3 has C(43, 3) = 12341 features, degree 4 far more
    seq = np.repeat((x[:, :1] * 2.0 - x[:, 1:2])[:, :, None], O, axis=2)[:, :1].repeat(T, axis=1)
    info: dict = {}
    pred = polynomial_ridge(x, seq, x[:3], info=info)
    assert info["degree"] <= 3 and MAX_POLYNOMIAL_FEATURES >= 12341
    assert np.abs(pred - seq[:3]).max() < 0.05  # a linear map of two inputs is found among 40
