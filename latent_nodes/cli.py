"""`latent-nodes <command>`: the package's commands for people without the `ros2` CLI.

Each command is a module under ``latent_nodes.scripts`` with ``main(argv)``; it is imported only
when asked for, so ``latent-nodes dataset`` never loads torch or rclpy it does not need.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {
    "demo": ("latent_nodes.scripts.demo", "run the ROS 2 graph on the embedded simulator"),
    "train": ("latent_nodes.scripts.train", "train a model (the paper's three cases behind --case)"),
    "table1": ("latent_nodes.scripts.table1", "reproduce the paper's Table I with reference rows"),
    "dataset": ("latent_nodes.scripts.dataset", "generate the demonstration dataset in the simulator"),
    "render": ("latent_nodes.scripts.render", "render a behaviour as a filmstrip and plot block positions"),
    "record": ("latent_nodes.scripts.record", "record demonstrations (joint states, block, episodes) into a bag"),
    "teach": ("latent_nodes.scripts.teach", "teach the embedded arm through ROS, recording a bag per split"),
    "bag2dataset": ("latent_nodes.scripts.bag2dataset", "convert rosbag2 recordings into a dataset file"),
    "domain": ("latent_nodes.scripts.domain", "measure completion error against distance outside the trained region"),
    "urdf": ("latent_nodes.scripts.urdf", "print the arm's URDF (robot description), or write it with -o"),
    "study": ("latent_nodes.scripts.study", "run a study (cases, seeds, datasets, inference methods) on Ray"),
}


class ArgumentParser(argparse.ArgumentParser):
    """argparse for the commands: a bad option is one line (what is wrong, and where help is), exit status 2.

    argparse would print the whole usage first, which for ``train`` buries the one line that matters.
    """

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message} ({self.prog} --help lists the options)\n")


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: latent-nodes <command> [args]  (latent-nodes <command> --help for its options)", ""]
    lines += [f"  {name:<{width}}  {text}" for name, (_, text) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"latent-nodes: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
