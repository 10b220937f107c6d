"""What a teaching run shows the robot: one lesson per behaviour and block position, and its joint targets.

A person teaching a real arm places the block, starts an episode on the recorder, moves the arm through
the behaviour and stops the episode. ``latent-nodes teach`` does the same in the embedded simulator,
through ROS topics; this module only plans it, without ROS: the lessons come in the order and with the
perturbation that ``generate_dataset`` uses for the same configuration (same seed, same sample), so a
dataset converted from the teaching run's bags can be compared sample by sample with the directly
generated one.

The recorded label is the teacher's to choose: ``NAME=SCRIPT`` teaches the demonstrator's ``SCRIPT`` (one of
``sim.demonstrations.DEMONSTRATIONS``) under the label ``NAME`` (``poke=double_tap``), as a person names
the behaviours they show a real arm; a plain ``SCRIPT`` is recorded under its own name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from latent_nodes.config import BEHAVIOURS, DataConfig, SimConfig
from latent_nodes.data.recording import valid_label
from latent_nodes.sim.demonstrations import (
    DEMONSTRATIONS,
    STEPS,
    joint_references,
    make_script,
    sample_rng,
    train_test_positions,
)


@dataclass(frozen=True)
class Lesson:
    """One demonstration to teach: a behaviour at a block position, in one split."""

    behaviour: str  # the label the recorder writes: the teacher's name for it
    label: int  # the script's index in DEMONSTRATIONS (its samples' seed index in generate_dataset)
    split: str  # "train" or "test"
    index: int  # position index within the split (the sample's seed index)
    block_xy: tuple[float, float]
    script: str = ""  # the demonstrator's script shown; empty: the one named ``behaviour``

    @property
    def shown(self) -> str:
        """The demonstrator's script this lesson shows."""
        return self.script or self.behaviour

    def targets(self, data_cfg: DataConfig, sim_cfg: SimConfig, steps: int = STEPS) -> np.ndarray:
        """[K + 1, 9] joint targets at the demonstrator's control rate, perturbed as in ``generate_dataset``."""
        rng = sample_rng(data_cfg.seed, self.label, self.split == "test", self.index)
        return joint_references(make_script(self.shown, np.asarray(self.block_xy), rng, sim_cfg, data_cfg, steps))


def parse_behaviours(specs: Sequence[str]) -> dict[str, str]:
    """``NAME=SCRIPT`` or ``SCRIPT`` specs -> {label: script}, in the given order; ValueError says what is wrong.

    Each label must be a valid episode label (``data.recording.valid_label``) and appear once; each script one
    of the demonstrator's.
    """
    plan: dict[str, str] = {}
    for spec in specs:
        name, _, script = spec.partition("=")
        script = script if _ else name
        if script not in DEMONSTRATIONS:
            raise ValueError(f"behaviour {spec!r}: the demonstrator scripts {list(DEMONSTRATIONS)} "
                             f"(NAME=SCRIPT records one under your own name)")
        reason = valid_label(name)
        if reason:
            raise ValueError(f"behaviour {spec!r}: {reason}")
        if name in plan:
            raise ValueError(f"behaviour {name!r} is named twice")
        plan[name] = script
    if not plan:
        raise ValueError("no behaviours to teach")
    return plan


def lessons(data_cfg: DataConfig | None = None, sim_cfg: SimConfig | None = None,
            behaviours: Sequence[str] = BEHAVIOURS) -> list[Lesson]:
    """Every behaviour at every training and test position, in ``generate_dataset``'s order.

    ``behaviours``: specs for ``parse_behaviours`` (``reach``, ``poke=double_tap``).
    """
    data_cfg, sim_cfg = data_cfg or DataConfig(), sim_cfg or SimConfig()
    plan = parse_behaviours(behaviours)
    train_xy, test_xy = train_test_positions(data_cfg, sim_cfg)
    return [Lesson(behaviour=name, label=DEMONSTRATIONS.index(script), split=split, index=i,
                   block_xy=(float(xy[0]), float(xy[1])), script="" if script == name else script)
            for name, script in plan.items() for split, positions in (("train", train_xy), ("test", test_xy))
            for i, xy in enumerate(positions)]
