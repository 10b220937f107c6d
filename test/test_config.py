"""The one configuration schema: YAML round trip and clear errors for typos."""

import pytest
import yaml

from latent_nodes.config import Config, load_config
from latent_nodes.normalization import Normalizer


def test_yaml_round_trip(tmp_path):
    cfg = Config()
    cfg.model.case = "embedding"
    cfg.train.epochs = 7
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg.to_dict()))
    assert load_config(path) == cfg


def test_partial_yaml_keeps_defaults(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  epochs: 3\n")
    cfg = load_config(path)
    assert cfg.train.epochs == 3 and cfg.model == Config().model


@pytest.mark.parametrize("text, message", [
    ("trian:\n  epochs: 3\n", "unknown config section 'trian'"),
    ("train:\n  epoch: 3\n", r"train\.epoch is unknown \(did you mean epochs\?\)"),
    ("model:\n  case: none\n", "expected one of"),
    ("- 1\n- 2\n", "mapping of sections"),
])
def test_bad_yaml_is_a_clear_error(tmp_path, text, message):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_config(path)


def test_missing_config_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_config(tmp_path / "none.yaml")


def test_normalizer_maps_training_range_to_unit_interval():
    import numpy as np

    x = np.random.default_rng(0).normal(size=(5, 20, 3)) * [1.0, 10.0, 0.0] + [0.0, 3.0, 2.0]
    n = Normalizer.fit(x)
    y = n.normalize(x)
    assert np.allclose(y[..., :2].min(axis=(0, 1)), -1) and np.allclose(y[..., :2].max(axis=(0, 1)), 1)
    assert np.allclose(y[..., 2], 0), "a constant dimension keeps unit scale"
    assert np.allclose(n.denormalize(y), x)
    with pytest.raises(ValueError, match="NaN"):
        Normalizer.fit(np.full((1, 2, 3), np.nan))


def test_atomic_write_replaces_and_keeps_normal_permissions(tmp_path):
    import os

    from latent_nodes.atomic import atomic_path, write_text_atomic

    path = tmp_path / "f.txt"
    write_text_atomic(path, "old")
    with pytest.raises(RuntimeError):
        with atomic_path(path) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert path.read_text() == "old" and not list(tmp_path.glob(".*.tmp"))
    write_text_atomic(path, "new")
    assert path.read_text() == "new"
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask
