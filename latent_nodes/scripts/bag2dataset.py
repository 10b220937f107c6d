"""Convert rosbag2 recordings into a dataset file: ``latent-nodes bag2dataset``.

Each ``--bag`` is ``PATH`` or ``PATH:BEHAVIOUR`` or ``PATH:BEHAVIOUR:SPLIT``. A bag with an ``/episode`` topic
is split into its labelled episodes; one without it is a single episode labelled by BEHAVIOUR. SPLIT is
``train`` (default) or ``test``. The labels are the behaviour names, whatever they are and however many:
``--behaviours`` gives them in label order (an episode with another label is refused), and without it they are
the labels found, in the order they first appear. Joint order and names come from ``--joint-names``; without
it, from the robot description recorded in the first bag (``/robot_description``: its commandable joints in
its order, mimic joints left out), else the embedded arm's. Joints named by hand are checked against the
description of every bag that has one (``latent_nodes.data.bags.recorded_joints``). ``--align-onset RAD``
starts each episode at its motion onset instead of its start mark (``latent_nodes.data.bags``), which removes
the varying delay between pressing start and moving. ``--stamps header`` times joint states by their header
stamps instead of their receive times (for recordings whose driver stamps on the recorder's clock, e.g.
``latent-nodes teach``'s). The result trains like any generated dataset (``latent-nodes train --dataset``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from latent_nodes.config import ModelConfig
from latent_nodes.data.bags import STAMPS
from latent_nodes.data.recording import valid_label


def parse_bag_spec(spec: str) -> tuple[Path, str | None, str]:
    """``PATH[:BEHAVIOUR[:SPLIT]]`` -> (path, behaviour or None, split)."""
    parts = spec.split(":")
    path, behaviour, split = Path(parts[0]), (parts[1] or None) if len(parts) > 1 else None, "train"
    if len(parts) > 2:
        split = parts[2]
    if len(parts) > 3 or split not in ("train", "test"):
        raise ValueError(f"--bag {spec!r}: expected PATH[:BEHAVIOUR[:SPLIT]] with SPLIT train or test")
    return path, behaviour, split


def check_names(names: list[str]) -> list[str]:
    """``--behaviours``: each a valid label (``data.recording.valid_label``), none twice; ValueError otherwise."""
    for name in names:
        reason = valid_label(name)
        if reason:
            raise ValueError(f"--behaviours {name!r}: {reason}")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"--behaviours names {twice} more than once")
    return list(names)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="latent-nodes bag2dataset", description=__doc__.split("\n\n")[0])
    p.add_argument("--bag", action="append", required=True, metavar="PATH[:BEHAVIOUR[:SPLIT]]",
                   help="a rosbag2 recording (directory or .mcap/.db3); repeat for several")
    p.add_argument("--out", type=Path, required=True, help="dataset file to write (.npz)")
    p.add_argument("--behaviours", nargs="+",
                   help="behaviour names in label order (labels in the bags must be among them); default: the "
                        "labels found, in the order they first appear")
    p.add_argument("--joint-names", nargs="+", help="joints to read, in order (default: the commandable joints of "
                                                    "the first bag's /robot_description, else the embedded arm's)")
    p.add_argument("--steps", type=int, default=ModelConfig().seq_len, help="time steps per episode")
    p.add_argument("--dt", type=float, default=0.1, help="seconds between steps")
    p.add_argument("--align-onset", type=float, metavar="RAD",
                   help="start each episode at its motion onset, the last joint state before any joint has "
                        "moved more than RAD radians from where it was at the start mark (default: at the mark)")
    p.add_argument("--stamps", choices=STAMPS, default="receive",
                   help="time joint states by when the recorder received them (default) or by their header "
                        "stamps (when they were measured; the driver must stamp on the recorder's clock)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from latent_nodes.data.bags import read_episodes, recorded_joints
    from latent_nodes.data.dataset import Dataset, save_dataset

    try:
        given = args.behaviours is not None
        names = check_names(args.behaviours) if given else []
        seqs, labels, xys, splits = [], [], [], []
        for spec in args.bag:
            path, behaviour, split = parse_bag_spec(spec)
            # The first bag fixes the joints (given, from its description, or the embedded arm's); every
            # bag's description must have them as commandable joints.
            joints = recorded_joints(path, args.joint_names)
            if joints is None:
                from latent_nodes.sim.arm import JOINT_NAMES

                joints = list(JOINT_NAMES)
            args.joint_names = joints
            for ep in read_episodes(path, args.joint_names, args.steps, args.dt, behaviour, args.align_onset,
                                    args.stamps):
                if ep.behaviour not in names:
                    if given:
                        raise ValueError(f"recording {path}: episode label {ep.behaviour!r} is not one of "
                                         f"{names} (see --behaviours)")
                    reason = valid_label(ep.behaviour)  # a label given with the bag, or a foreign recorder's
                    if reason:
                        raise ValueError(f"recording {path}: episode label {ep.behaviour!r}: {reason}")
                    names.append(ep.behaviour)
                seqs.append(ep.sequence)
                labels.append(names.index(ep.behaviour))
                xys.append(ep.block_xy)
                splits.append(split)
            print(f"{path}: {len(seqs)} episodes so far")
        args.behaviours = names
        dataset = Dataset(sequences=np.array(seqs), labels=np.array(labels), block_xy=np.array(xys),
                          split=np.array(splits), joint_names=args.joint_names, behaviour_names=args.behaviours,
                          dt=args.dt, settings={"generator": "latent_nodes.data.bags", "bags": args.bag,
                                                   "align_onset": args.align_onset, "stamps": args.stamps})
        save_dataset(dataset, args.out)
    except ValueError as exc:  # BagError and DatasetError are ValueErrors with the file in the message
        print(f"latent-nodes bag2dataset: {exc}", file=sys.stderr)
        return 2
    counts = {b: int(np.sum(dataset.labels == i)) for i, b in enumerate(args.behaviours)}
    print(f"wrote {args.out}: {len(dataset)} episodes {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
