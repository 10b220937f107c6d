"""The arm's robot description: ``latent-nodes urdf``.

Prints the URDF of the embedded arm (written from the same link tree as its MJCF, see
``latent_nodes/sim/urdf.py``), or writes it to a file atomically with ``-o``. The sim node publishes the
same text on ``/robot_description``.

    latent-nodes urdf                                   # to standard output
    latent-nodes urdf -o arm.urdf                       # to a file
    latent-nodes urdf --root-frame world -o arm.urdf    # root link named after another frame
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from latent_nodes.config import NodesConfig


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="latent-nodes urdf", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="examples:\n" + __doc__.split("\n\n")[-1])
    p.add_argument("-o", "--output", type=Path, help="file to write (default: print to standard output)")
    p.add_argument("--root-frame", default=NodesConfig().frame_id,
                   help="name of the root link, fixed at the arm's base: the frame of block poses "
                        "(default: %(default)s); '' for none, base_link is then the root")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    from latent_nodes.atomic import write_text_atomic
    from latent_nodes.sim.urdf import build_urdf

    try:
        text = build_urdf(root_frame=args.root_frame or None)
    except ValueError as exc:
        print(f"latent-nodes urdf: {exc}", file=sys.stderr)
        return 2
    if args.output is None:
        sys.stdout.write(text)
        return 0
    try:
        write_text_atomic(args.output, text)
    except OSError as exc:
        print(f"latent-nodes urdf: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
