"""`latent-nodes demo`: the launch file's graph in one process, driven through trials at unseen positions.

The command line of every scenario (``--scenario glimpse|moved|recognize``, ``--perception
truth|camera``); checks the options and the parameter files before any node starts, then runs the
scenario's module of ``latent_nodes.demo``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

from latent_nodes.demo.graph import NODES, GraphError, running_graph

# The simulator's truth by default: with the camera the demo's graph renders in its own process, and on a
# 2-core machine that costs the executed path and the moved scenario's timing more than the 20 % the
# camera may (docs/camera.md, "What the camera does to the demo"; benchmarks/camera_behaviour.py).
DEFAULT_PERCEPTION = "truth"

def build_parser() -> argparse.ArgumentParser:
    from latent_nodes.cli import ArgumentParser

    p = ArgumentParser(prog="latent-nodes demo", description=__doc__.split("\n\n")[0],
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", default="", help="model file; empty means the shipped models/latent_nodes_default.pt")
    p.add_argument("--behaviours", nargs="+", metavar="NAME[=SCRIPT]",
                   help="behaviours of the model to complete at every position, compared with the demonstrator's "
                        "script of that name, or with SCRIPT (poke=double_tap, for a model with your own names); "
                        "default: all of the model's")
    p.add_argument("--positions", nargs="+", type=float, metavar="X Y",
                   help="block positions (x y pairs, metres, table frame); default: the model's unseen test positions")
    p.add_argument("--scenario", choices=["glimpse", "moved", "recognize"], default="glimpse",
                   help="glimpse: one pose, one completed behaviour per trial (and --outside); moved: the block is "
                        "moved to a second unseen position during the approach, today's restart against the "
                        "online mode; recognize: the arm is driven through a demonstration while the node "
                        "recognizes it, accuracy and completion error against the steps shown (docs/online.md)")
    p.add_argument("--perception", choices=["truth", "camera"], default=DEFAULT_PERCEPTION,
                   help="where /block_pose comes from, in every scenario: truth, the simulator's pose; camera, "
                        "the block found in the sim node's rendered RGB-D images (docs/camera.md)")
    p.add_argument("--camera-rate", type=float, default=2.0,
                   help="with --perception camera, the sim node renders its camera at this rate, Hz")
    p.add_argument("--camera-size", default="640x480", metavar="WxH",
                   help="with --perception camera, the rendered images' width x height, pixels")
    p.add_argument("--trials", type=int, default=0, help="run only the first N trials (0: all)")
    p.add_argument("--seed", type=int, default=0, help="moved: seed of the second positions and move steps")
    p.add_argument("--recognition-rule", choices=["sequential", "margin"], default=None,
                   help="recognize: the inference node's recognition_rule (default: its parameter file's)")
    p.add_argument("--recognition-max-error", type=float, default=None,
                   help="recognize: the inference node's recognition_max_error, used by the margin rule "
                        "(default: its parameter file's)")
    p.add_argument("--outside", nargs="*", type=float, default=[0.01, 0.03, 0.08], metavar="M",
                   help="then place the block this many metres beyond the trained region's far edge, per "
                        "behaviour (none: skip)")
    p.add_argument("--out-of-domain", choices=["refuse", "warn", "allow"], default=None,
                   help="the inference node's out_of_domain policy (default: its parameter file's)")
    p.add_argument("--out", default="runs/demo", help="directory for the results (<scenario>_results.json, and "
                                                      "demo_results.json for glimpse) and pictures")
    p.add_argument("--no-bag", action="store_true",
                   help="do not record the run as an MCAP bag (<out>/<scenario>_bag: joint states, block poses, "
                        "completed behaviours, results, robot description, markers)")
    p.add_argument("--config-dir", default="",
                   help="directory of the nodes' YAML files; default: the package's config/")
    p.add_argument("--timeout", type=float, default=20.0, help="seconds a trial may take before it is abandoned")
    p.add_argument("--log-level", default="warn", choices=["debug", "info", "warn", "error"],
                   help="log level of the nodes (info shows every pose, trajectory and refusal)")
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:  # --help, or one line about a bad option
        return int(exc.code or 0)
    if not (math.isfinite(args.camera_rate) and 0 < args.camera_rate <= 30):
        print("latent-nodes demo: --camera-rate takes Hz, above 0 and at most 30", file=sys.stderr)
        return 2
    try:
        args.camera_width, args.camera_height = camera_size(args.camera_size)
    except ValueError as exc:
        print(f"latent-nodes demo: {exc}", file=sys.stderr)
        return 2
    if args.positions is not None and len(args.positions) % 2:
        print("latent-nodes demo: --positions needs x y pairs", file=sys.stderr)
        return 2
    if any(not (math.isfinite(d) and 0 < d <= 0.15) for d in args.outside):
        print("latent-nodes demo: --outside takes distances in metres, above 0 and at most 0.15", file=sys.stderr)
        return 2
    if args.behaviours is not None:
        from latent_nodes.data.teaching import parse_behaviours

        try:
            args.scripts = parse_behaviours(args.behaviours)  # NAME=SCRIPT; the names are checked on the model
        except ValueError as exc:
            print(f"latent-nodes demo: {exc}", file=sys.stderr)
            return 2
        args.behaviours = list(args.scripts)
    from latent_nodes.config import package_share

    config_dir = Path(args.config_dir) if args.config_dir else package_share() / "config"
    missing = [str(config_dir / f"{n}.yaml") for n in NODES if not (config_dir / f"{n}.yaml").is_file()]
    if missing:
        print(f"latent-nodes demo: missing parameter files {missing}", file=sys.stderr)
        return 2

    # A demo in one process has nobody to talk to on the network; keep discovery on this machine unless
    # the user asked for more.
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    from latent_nodes.nodes.parameters import check_parameters_file

    # The parameter files against the schema, before any node starts: a typo or a bad value is one line
    # here, not a traceback (or a silently ignored setting) once the graph runs.
    try:
        for name in NODES:
            check_parameters_file(config_dir / f"{name}.yaml", name)
    except ValueError as exc:
        print(f"latent-nodes demo: {exc}", file=sys.stderr)
        return 2

    try:
        if args.scenario == "moved":
            from latent_nodes.demo.moved import run_moved

            return run_moved(args, config_dir)
        if args.scenario == "recognize":
            from latent_nodes.demo.recognize import run_recognize

            return run_recognize(args, config_dir)
        from latent_nodes.demo.glimpse import run_glimpse

        with running_graph(args, config_dir, bag="glimpse_bag") as (inference, driver):
            return run_glimpse(args, inference, driver)
    except GraphError as exc:
        print(f"latent-nodes demo: cannot start the graph: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nlatent-nodes demo: interrupted", file=sys.stderr)
        return 130


def camera_size(text: str) -> tuple[int, int]:
    """``--camera-size`` ``WxH`` -> (width, height), within what the sim node's camera accepts."""
    from dataclasses import fields

    from latent_nodes.config import CameraConfig

    bounds = {f.name: (f.metadata["ge"], f.metadata["le"]) for f in fields(CameraConfig)
              if f.name in ("width", "height")}
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--camera-size takes WIDTHxHEIGHT in pixels, e.g. 320x240, not {text!r}") from None
    for name, value in (("width", width), ("height", height)):
        low, high = bounds[name]
        if not low <= value <= high:
            raise ValueError(f"--camera-size: {name} {value} is outside {low}-{high} pixels")
    return width, height
