"""What the demo runs and compares with: the model's behaviours, each with the demonstrator's script."""

from __future__ import annotations

import argparse

import numpy as np

from latent_nodes.demo.graph import GraphError


def model_behaviours(args: argparse.Namespace, completer) -> dict[str, str]:
    """The behaviours to run, each the model's, with the demonstrator script it is compared with.

    ``--behaviours`` (parsed in ``main``: ``args.scripts``) or else every behaviour of the loaded model,
    whatever its names; sets ``args.behaviours`` to the names. A name the model does not know, or one that
    is no script and names none, is a ``GraphError`` line.
    """
    from latent_nodes.sim.demonstrations import DEMONSTRATIONS

    names = list(completer.behaviours)
    scripts = getattr(args, "scripts", None) or {name: name for name in (args.behaviours or names)}
    unknown = [name for name in scripts if name not in names]
    if unknown:
        raise GraphError(f"--behaviours {unknown}: the model {args.model or 'shipped default'} knows {names}")
    unscripted = [name for name, script in scripts.items() if script not in DEMONSTRATIONS]
    if unscripted:
        raise GraphError(f"the model's behaviours {unscripted} have no demonstrator script to show and compare "
                         f"with; name one for each ({unscripted[0]}=SCRIPT, SCRIPT one of {list(DEMONSTRATIONS)})")
    args.behaviours = list(scripts)
    return scripts


def demonstrator(cfg, n_joints: int, scripts: dict[str, str] | None = None):
    """``demonstrate(behaviour, xy)``: the scripted demonstration's joints at that position, the reference.

    Without the training set's perturbation, recorded in a simulator of its own. ``scripts`` maps the
    model's behaviour names to the demonstrator's scripts (none: the same names).
    """
    from latent_nodes.sim.demonstrations import generate_demonstration
    from latent_nodes.sim.simulator import ArmSimulator

    reference_world = ArmSimulator(cfg.sim)
    scripts = dict(scripts or {})

    def demonstrate(behaviour: str, xy: np.ndarray) -> np.ndarray:
        sequence = generate_demonstration(scripts.get(behaviour, behaviour), xy, None, cfg.sim, cfg.data,
                                          simulator=reference_world)
        return np.asarray(sequence)[:, :n_joints]

    return demonstrate
