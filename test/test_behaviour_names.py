"""Behaviour names are the user's: the schema, teaching plans, bag2dataset and the demo take any valid name.

What a name may not be: empty, padded, ``end`` (it closes an episode), ``auto`` or ``undecided`` (the
inference node's request for recognition and recognition's abstention). The ROS side (the inference node
checking names against its model, a model of three user-named behaviours recognized) is in
test_user_behaviours.py.
"""

import argparse
from types import SimpleNamespace

import numpy as np
import pytest

from latent_nodes.config import NodesConfig, validate_section
from latent_nodes.data.teaching import lessons, parse_behaviours
from latent_nodes.sim.demonstrations import DEMONSTRATIONS


def test_the_schema_takes_any_behaviour_name_and_leaves_the_check_to_the_model():
    for name in ("wipe", "push", "poke", "auto", ""):
        assert validate_section(NodesConfig(behaviour=name)).behaviour == name
    assert NodesConfig().behaviour == ""  # the model's first behaviour


def test_a_teaching_plan_records_scripts_under_the_users_names():
    assert parse_behaviours(["poke=double_tap", "reach", "circle=reach_circle"]) == {
        "poke": "double_tap", "reach": "reach", "circle": "reach_circle"}
    plan = lessons(behaviours=["poke=double_tap", "reach"])
    assert [lesson.behaviour for lesson in plan[:1]] == ["poke"] and plan[0].script == "double_tap"
    assert {lesson.behaviour for lesson in plan} == {"poke", "reach"} and len(plan) == 2 * (25 + 16)
    # The seed is the script's, whatever it is called: poke's targets are double_tap's.
    named, plain = plan[0], lessons(behaviours=["double_tap"])[0]
    assert named.label == plain.label == DEMONSTRATIONS.index("double_tap")
    from latent_nodes.config import DataConfig, SimConfig

    np.testing.assert_array_equal(named.targets(DataConfig(), SimConfig()), plain.targets(DataConfig(), SimConfig()))


@pytest.mark.parametrize("specs, match", [
    (["wave"], "the demonstrator scripts"),
    (["poke=wave"], "the demonstrator scripts"),
    (["auto=reach"], "reserved"),
    (["undecided=reach"], "reserved"),
    (["end=reach"], "ends an episode"),
    ([" poke=reach"], "spaces"),
    (["=reach"], "needs a behaviour label"),
    (["poke=reach", "poke=double_tap"], "named twice"),
    ([], "no behaviours"),
])
def test_bad_teaching_names_are_one_line(specs, match):
    with pytest.raises(ValueError, match=match):
        parse_behaviours(specs)


def test_teach_refuses_a_bad_name_before_starting(tmp_path, capsys):
    from latent_nodes.scripts import teach

    assert teach.main(["--out", str(tmp_path / "bags"), "--behaviours", "auto=reach"]) == 2
    assert "reserved" in capsys.readouterr().err
    assert not (tmp_path / "bags").exists()


def test_bag2dataset_names_are_checked():
    from latent_nodes.scripts.bag2dataset import check_names

    assert check_names(["wipe", "push"]) == ["wipe", "push"]
    with pytest.raises(ValueError, match="reserved"):
        check_names(["wipe", "auto"])
    with pytest.raises(ValueError, match=r"names \['wipe'\] more than once"):
        check_names(["wipe", "push", "wipe"])


def test_the_demo_runs_the_models_names_with_a_script_for_each():
    from latent_nodes.demo.graph import GraphError
    from latent_nodes.demo.reference import model_behaviours

    completer = SimpleNamespace(behaviours=("reach", "reach_circle"))  # what the demo reads of the loaded model
    args = argparse.Namespace(behaviours=None, model="")
    assert model_behaviours(args, completer) == {"reach": "reach", "reach_circle": "reach_circle"}
    assert args.behaviours == ["reach", "reach_circle"]
    users = SimpleNamespace(behaviours=("poke", "reach"))
    with pytest.raises(GraphError, match=r"behaviours \['poke'\] have no demonstrator script.*poke=SCRIPT"):
        model_behaviours(argparse.Namespace(behaviours=None, model="m.pt"), users)
    args = argparse.Namespace(behaviours=["poke"], scripts=parse_behaviours(["poke=double_tap"]), model="m.pt")
    assert model_behaviours(args, users) == {"poke": "double_tap"}
    with pytest.raises(GraphError, match=r"--behaviours \['wipe'\]: the model m.pt knows \['poke', 'reach'\]"):
        model_behaviours(argparse.Namespace(behaviours=["wipe"], scripts={"wipe": "reach"}, model="m.pt"), users)
