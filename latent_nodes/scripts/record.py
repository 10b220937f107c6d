"""Record demonstrations into a rosbag2 MCAP bag: ``latent-nodes record`` (the record node, as a command).

Starts the record node (``latent_nodes.nodes.record_node``): it records ``/joint_states`` and
``/block_pose`` into ``--bag`` until Ctrl-C, and marks episodes on ``/record/start_episode`` and
``/record/stop_episode``, each labelled with the node's ``behaviour`` parameter (``--behaviour`` sets
its first value; ``ros2 param set /record behaviour NAME`` changes it between episodes).
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from latent_nodes.cli import ArgumentParser
    from latent_nodes.config import BEHAVIOURS

    p = ArgumentParser(prog="latent-nodes record", description=__doc__.split("\n\n")[0])
    p.add_argument("--bag", type=Path, required=True, help="rosbag2 directory to write (must not exist)")
    p.add_argument("--behaviour", default=BEHAVIOURS[0],
                   help="label of the first episode: your name for the behaviour, which the dataset and the model "
                        "trained on it will use (any name but auto, undecided, end)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing bag once the new one is complete")
    try:
        args = p.parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    from latent_nodes.nodes.record_node import main as run

    return run(["--ros-args", "-p", f"bag:={args.bag}", "-p", f"behaviour:={args.behaviour}",
                "-p", f"overwrite:={str(args.overwrite).lower()}"])


if __name__ == "__main__":
    sys.exit(main())
