"""What a teaching run shows the robot: one lesson per behaviour and block position, and its joint targets.

A person teaching a real arm places the block, starts an episode on the recorder, moves the arm through
the behaviour and stops the episode. ``latent-nodes teach`` does the same in the embedded simulator,
through ROS topics; this module only plans it, without ROS: the lessons come in the order and with the
perturbation that ``generate_dataset`` uses for the same configuration (same seed, same sample), so a
dataset converted from the teaching run's bags can be compared sample by sample with the directly
generated one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from latent_nodes.config import BEHAVIOURS, DataConfig, SimConfig
from latent_nodes.sim.demonstrations import STEPS, joint_references, make_script, sample_rng, train_test_positions


@dataclass(frozen=True)
class Lesson:
    """One demonstration to teach: a behaviour at a block position, in one split."""

    behaviour: str
    label: int  # index into BEHAVIOURS (the sample's label in generate_dataset)
    split: str  # "train" or "test"
    index: int  # position index within the split (the sample's seed index)
    block_xy: tuple[float, float]

    def targets(self, data_cfg: DataConfig, sim_cfg: SimConfig, steps: int = STEPS) -> np.ndarray:
        """[K + 1, 9] joint targets at the demonstrator's control rate, perturbed as in ``generate_dataset``."""
        rng = sample_rng(data_cfg.seed, self.label, self.split == "test", self.index)
        return joint_references(make_script(self.behaviour, np.asarray(self.block_xy), rng, sim_cfg, data_cfg, steps))


def lessons(data_cfg: DataConfig | None = None, sim_cfg: SimConfig | None = None,
            behaviours: list[str] | tuple[str, ...] = BEHAVIOURS) -> list[Lesson]:
    """Every behaviour at every training and test position, in ``generate_dataset``'s order."""
    data_cfg, sim_cfg = data_cfg or DataConfig(), sim_cfg or SimConfig()
    unknown = [b for b in behaviours if b not in BEHAVIOURS]
    if unknown:
        raise ValueError(f"unknown behaviours {unknown}; the demonstrator knows {list(BEHAVIOURS)}")
    train_xy, test_xy = train_test_positions(data_cfg, sim_cfg)
    return [Lesson(behaviour=b, label=BEHAVIOURS.index(b), split=split, index=i,
                   block_xy=(float(xy[0]), float(xy[1])))
            for b in behaviours for split, positions in (("train", train_xy), ("test", test_xy))
            for i, xy in enumerate(positions)]
