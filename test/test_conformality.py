"""Scale-free conformality of a chart, on maps whose answer is known in closed form."""

import json
import math

import numpy as np
import pytest
import torch

from latent_nodes.config import CASE_NO_EMBEDDING, ModelConfig
from latent_nodes.model.conformality import (
    chart_conformality,
    chart_jacobians,
    condition_numbers,
    model_conformality,
    orthogonality_ratio,
)
from latent_nodes.model.embedding import PatternEmbedding
from latent_nodes.model.latent_model import LatentModel
from latent_nodes.model.regularizer import orthonormal_pairs

from synthetic import dataset


def constant(j: torch.Tensor, n: int = 16) -> torch.Tensor:
    """The Jacobians [n, L, K] of a linear map with matrix j, at n points."""
    return j.to(torch.float64).expand(n, *j.shape)


def padded(j2: list[list[float]]) -> torch.Tensor:
    """A 2 x 2 map placed into R^4 (the two extra latent dimensions unused)."""
    j = torch.zeros(4, 2, dtype=torch.float64)
    j[:2] = torch.tensor(j2, dtype=torch.float64)
    return j


def monte_carlo_ratio(jac: torch.Tensor, draws: int = 200_000) -> float:
    """E[(v^T G w)^2] / E[||J v||^2]^2 by sampling pairs (and points) as Algorithm 1 does."""
    g = torch.Generator().manual_seed(0)
    v, w = orthonormal_pairs(draws, jac.shape[2], g, torch.float64)
    at = jac[torch.randint(0, jac.shape[0], (draws,), generator=g)]
    jv, jw = (at @ v.unsqueeze(2)).squeeze(2), (at @ w.unsqueeze(2)).squeeze(2)
    return (((jv * jw).sum(1) ** 2).mean() / (jv ** 2).sum(1).mean() ** 2).item()


def test_rotation_and_scale_is_conformal():
    q, _ = torch.linalg.qr(torch.randn(4, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64))
    # A different scale at every point is still conformal (conformal is not isometric).
    jac = q[:, :2].expand(10, 4, 2) * torch.linspace(0.2, 3.0, 10, dtype=torch.float64).view(10, 1, 1)
    assert torch.allclose(condition_numbers(jac), torch.ones(10, dtype=torch.float64), atol=1e-12)
    assert orthogonality_ratio(jac) < 1e-28
    c = chart_conformality(jac)
    assert c.condition_median == pytest.approx(1.0, abs=1e-12) and c.condition_max == pytest.approx(1.0, abs=1e-12)
    assert c.points == 10


@pytest.mark.parametrize("s", [0.3, 1.0, 2.5])
def test_shear_matches_its_closed_form(s):
    # J = [[1, s], [0, 1]]: G = [[1, s], [s, 1 + s^2]], eigenvalues ((2 + s^2) +- s sqrt(s^2 + 4)) / 2,
    # and for K = 2 the ratio is K (K tr G^2 - tr^2 G) / ((K - 1)(K + 2) tr^2 G) = s^2 (4 + s^2) / (2 (2 + s^2)^2).
    jac = constant(padded([[1.0, s], [0.0, 1.0]]))
    hi, lo = ((2 + s * s) + s * math.sqrt(s * s + 4)) / 2, ((2 + s * s) - s * math.sqrt(s * s + 4)) / 2
    assert condition_numbers(jac)[0].item() == pytest.approx(hi / lo, rel=1e-10)
    exact = s * s * (4 + s * s) / (2 * (2 + s * s) ** 2)
    assert orthogonality_ratio(jac) == pytest.approx(exact, rel=1e-10)
    assert monte_carlo_ratio(jac) == pytest.approx(exact, rel=0.02)


def test_shear_of_one_is_the_golden_ratio_to_the_fourth():
    jac = constant(padded([[1.0, 1.0], [0.0, 1.0]]))
    golden = (1 + math.sqrt(5)) / 2
    assert condition_numbers(jac)[0].item() == pytest.approx(golden ** 4, rel=1e-10)
    assert orthogonality_ratio(jac) == pytest.approx(5 / 18, rel=1e-10)


def test_closed_form_matches_draws_for_k3_and_varying_points():
    jac = torch.randn(7, 4, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    assert orthogonality_ratio(jac) == pytest.approx(monte_carlo_ratio(jac), rel=0.03)


def test_measures_are_scale_free():
    jac = torch.randn(9, 4, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    assert orthogonality_ratio(1e-3 * jac) == pytest.approx(orthogonality_ratio(jac), rel=1e-9)
    assert torch.allclose(condition_numbers(1e3 * jac), condition_numbers(jac), rtol=1e-9)


def test_collapsed_chart_is_never_conformal():
    # J = 0: L_perp would be 0, a perfect score. Here: both measures are +inf (collapsed).
    zero = constant(torch.zeros(4, 2))
    c = chart_conformality(zero)
    assert c.condition_median == math.inf and c.condition_max == math.inf and c.orthogonality == math.inf
    # Rank one (one direction lost): the condition number is inf, the ratio its maximum 1/2 for K = 2.
    line = constant(padded([[1.0, 0.0], [0.0, 0.0]]))
    assert torch.isinf(condition_numbers(line)).all()
    assert orthogonality_ratio(line) == pytest.approx(0.5, rel=1e-12)
    # Collapsed at some points only: the worst point says so, the ratio stays finite.
    mixed = torch.cat([zero[:3], constant(torch.eye(4, 2), 5)])
    assert chart_conformality(mixed).condition_max == math.inf
    assert chart_conformality(mixed).condition_median == 1.0
    assert 0 <= chart_conformality(mixed).orthogonality < 1e-20


def test_rejects_empty_input_and_one_dimensional_charts():
    with pytest.raises(ValueError, match=r"\[N, L, K\]"):
        chart_conformality(torch.zeros(0, 4, 2))
    with pytest.raises(ValueError, match="at least 2"):
        orthogonality_ratio(torch.ones(3, 4, 1))


def test_embedding_jacobians_match_autograd():
    torch.manual_seed(4)
    emb = PatternEmbedding(n_patterns=2, local_dim=2, latent_dim=4, hidden=8).double()
    xi, pattern = torch.randn(5, 2, dtype=torch.float64), torch.tensor([0, 1, 1, 0, 1])
    jac = chart_jacobians(emb, xi, pattern)
    for i in range(5):
        ref = torch.autograd.functional.jacobian(lambda x, i=i: emb(x.unsqueeze(0), pattern[i:i + 1])[0], xi[i])
        assert torch.allclose(jac[i], ref, atol=1e-12)


def test_model_conformality_per_behaviour():
    torch.manual_seed(5)
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    model = LatentModel(ModelConfig(layer_sizes=[8, 4], time_constants=[2.0, 4.0]), labels)
    measured = model_conformality(model, ["reach", "reach_circle"])
    assert set(measured) == {"reach", "reach_circle"}
    for row in measured.values():
        assert row["points"] == 3 and 1.0 <= row["condition_median"] <= row["condition_max"] < math.inf
        assert 0.0 < row["orthogonality"] <= 0.5
    # A collapsed chart (second layer zeroed: z no longer depends on xi) is reported as such.
    with torch.no_grad():
        model.embedding.w2[1].zero_()
    assert model_conformality(model, ["reach", "reach_circle"])["reach_circle"]["orthogonality"] == math.inf
    free = LatentModel(ModelConfig(case=CASE_NO_EMBEDDING, layer_sizes=[8, 4], time_constants=[2.0, 4.0]), labels)
    assert model_conformality(free, ["reach", "reach_circle"]) == {}


def test_train_command_reports_conformality(tmp_path):
    from latent_nodes.data.dataset import Dataset, save_dataset
    from latent_nodes.scripts.train import main

    seqs, labels, xy = dataset(n_side=3)
    split = np.where(np.arange(len(labels)) % 9 == 4, "test", "train")  # the centre of each grid: unseen
    save_dataset(Dataset(seqs, labels, xy, split, [f"j{i}" for i in range(9)], ["reach", "reach_circle"], 0.1),
                 tmp_path / "d.npz")
    out = tmp_path / "run"
    assert main(["--dataset", str(tmp_path / "d.npz"), "--epochs", "3", "--out-dir", str(out), "--no-progress",
                 "--layer-sizes", "8", "4", "--time-constants", "2", "4", "--embedding-hidden", "8"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    charts = metrics["chart_conformality"]
    assert set(charts) == {"reach", "reach_circle"}
    assert all(row["points"] == 8 and row["condition_median"] >= 1.0 for row in charts.values())


def test_study_hooks_report_each_behaviours_chart():
    """The study's per-run hooks give one scale-free figure per behaviour of a trained model."""
    from types import SimpleNamespace

    from latent_nodes.study.metrics import RUN_METRICS, RunContext

    from synthetic import tiny_checkpoint

    ckpt = tiny_checkpoint([f"j{i}" for i in range(9)], epochs=20)
    ctx = RunContext(model=ckpt.model, normalizer=ckpt.normalizer, config=ckpt.config,
                     dataset=SimpleNamespace(behaviour_names=ckpt.behaviour_names))
    condition = RUN_METRICS["conformality_condition"](ctx)
    orthogonality = RUN_METRICS["conformality_orthogonality"](ctx)
    assert set(condition) == set(orthogonality) == {"reach", "reach_circle"}
    assert all(v >= 1.0 for v in condition.values()) and all(0.0 <= v <= 0.5 for v in orthogonality.values())
