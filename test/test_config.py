"""The one configuration schema: YAML round trip and clear errors for typos."""

import pytest
import yaml

from latent_nodes.config import Config, load_config
from latent_nodes.model.normalization import Normalizer


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


@pytest.mark.parametrize("data, message", [
    ({"train": {"epochs": 2.7}}, "train.epochs = 2.7: expected an integer >= 1"),
    ({"train": {"epochs": "one"}}, "train.epochs = 'one': expected an integer >= 1"),
    ({"train": {"epochs": True}}, "train.epochs = true: expected an integer >= 1"),
    ({"train": {"epochs": 10**400}}, "train.epochs = 1e+400 (about): expected an integer >= 1 (a 64-bit integer)"),
    ({"train": {"lr": float("inf")}}, "train.lr = inf: expected a finite number > 0"),
    ({"train": {"lr_final": 2}}, "train.lr_final = 2: expected a finite number >= 0 and <= 1"),
    ({"train": {"device": "gpu"}}, "train.device = 'gpu': expected cpu, cuda or cuda:<index>"),
    ({"nodes": {"publish_clock": "yes"}}, "nodes.publish_clock = 'yes': expected true or false"),
    ({"model": {"layer_sizes": [16, "8"]}}, "model.layer_sizes = [16, '8']: expected a non-empty list of integers"),
    ({"model": {"layer_sizes": []}}, "model.layer_sizes = []: expected a non-empty list"),
    ({"sim": {"table_x": [0.2]}}, "sim.table_x = [0.2]: expected a list of 2 finite numbers"),
    ({"nodes": {"perception_positions": [0.5, 0.1, 0.4]}}, "expected a list of finite numbers (x, y pairs"),
    ({"inference": {"method": "newton"}}, "inference.method = 'newton': expected one of: gauss-newton, adam"),
    ({"model": {"local_dim": 3, "latent_dim": 2}}, "model.local_dim = 3 exceeds model.latent_dim = 2"),
    ({"model": {"perception_dims": [9, 9]}}, "model.perception_dims = [9, 9]: expected distinct indices"),
    ({"model": {"layer_sizes": [16, 8]}}, "model.layer_sizes has 2 layers but model.time_constants has 3"),
    ({"model": {"time_constants": [0.5, 4.0, 8.0]}}, "model.time_constants = [0.5, 4, 8]: expected a non-empty "
                                                     "list of finite numbers, each >= 1"),
    ({"sim": {"workspace_y": [-0.5, 0.2]}}, "sim.workspace_y = [-0.5, 0.2] reaches off sim.table_y"),
    ({"sim": {"table_x": [0.8, 0.2]}}, "sim.table_x = [0.8, 0.2]: expected [low, high] with low < high"),
    ({"sim": {"physics_dt": 0.2}}, "sim.physics_dt = 0.2 exceeds sim.dt = 0.1"),
    ({"data": {"train_grid": [5, 1]}}, "data.train_grid = [5, 1]: expected a list of 2 integers, each >= 2"),
    ({"nodes": {"perception_rte": 0.2}}, r"nodes.perception_rte is unknown (did you mean perception_rate?)"),
    ({"model": 5}, "section model is a mapping of its fields, got 5"),
    ([1, 2], "a configuration is a mapping of sections"),
])
def test_schema_refuses_with_field_value_and_rule(data, message):
    from latent_nodes.config import ConfigError

    with pytest.raises(ConfigError) as info:
        Config.from_dict(data)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_every_entry_point_refuses_the_same_way():
    """A dict, a YAML-built config changed in code, and a command-line option meet the one check."""
    import argparse

    from latent_nodes.config import ConfigError, TrainConfig, add_arguments, validate_section

    rule = "train.epochs = -5: expected an integer >= 1"
    with pytest.raises(ConfigError, match=rule):
        Config.from_dict({"train": {"epochs": -5}})
    cfg = Config()
    cfg.train.epochs = -5
    with pytest.raises(ConfigError, match=rule):
        cfg.validate()
    with pytest.raises(ConfigError, match=rule):
        validate_section(TrainConfig(epochs=-5))
    parser = argparse.ArgumentParser(exit_on_error=False)
    add_arguments(parser, TrainConfig)
    with pytest.raises(argparse.ArgumentError, match=rule):
        parser.parse_args(["--epochs", "-5"])
    assert "epochs" not in vars(parser.parse_args([])), "an option not given leaves the config's value"


def test_validation_normalizes_and_accepts_the_defaults():
    from latent_nodes.config import InferenceConfig, SimConfig, default_model_path, validate_section
    from latent_nodes.model.checkpoint import load_checkpoint

    assert Config().validate() == Config()
    assert load_checkpoint(default_model_path()).config == Config.from_dict(
        load_checkpoint(default_model_path()).config.to_dict()), "the shipped model's settings pass the schema"
    sim = validate_section(SimConfig(dt=1, table_x=(0.2, 0.8)))
    assert sim.dt == 1.0 and isinstance(sim.dt, float) and sim.table_x == [0.2, 0.8]
    assert validate_section(InferenceConfig(steps=5)).steps == 5


def test_numbers_in_messages_are_compact():
    from latent_nodes.config import ConfigError, show

    assert show(1e308) == "1e+308" and show(0.1 + 0.2) == "0.3" and show(123456789) == "123456789"
    assert show(-(10**500)).startswith("-1e+500") and len(show(10**5000)) < 20
    assert show("x" * 200).endswith("...'") and len(show(list(range(100)))) < 40
    with pytest.raises(ConfigError) as info:
        Config.from_dict({"train": {"lr": -1e308}})
    assert str(info.value) == "train.lr = -1e+308: expected a finite number > 0"
