"""The path the fingertip takes along a completed behaviour, by forward kinematics, without ROS.

What RViz shows of a completion (``nodes/markers_node.py``): the fingertip centre (the point the
behaviours move, ``arm.EE_SITE``) at every point of the trajectory, with points in between interpolated
in joint space as the commander streams them, so the drawn line is the path the arm follows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from latent_nodes.sim import arm
from latent_nodes.sim.kinematics import forward_kinematics


def fingertip_path(names: Sequence[str], positions: np.ndarray, substeps: int = 4) -> np.ndarray:
    """[(N - 1) * substeps + 1, 3] fingertip positions, metres in the table frame.

    ``names`` are the trajectory's joint names (any order, exactly the arm's), ``positions`` [N, J];
    ``substeps`` points per segment, interpolated linearly in joint space. ValueError for names that are
    not the arm's joints or positions of the wrong shape.
    """
    names = list(names)
    if sorted(names) != sorted(arm.JOINT_NAMES):
        raise ValueError(f"joint names {names} are not the arm's {list(arm.JOINT_NAMES)}")
    if substeps < 1:
        raise ValueError(f"substeps must be >= 1, got {substeps}")
    q = np.asarray(positions, dtype=np.float64)
    if q.ndim != 2 or q.shape[1] != len(names) or len(q) == 0:
        raise ValueError(f"expected positions [N, {len(names)}], got shape {q.shape}")
    q = q[:, [names.index(n) for n in arm.JOINT_NAMES]]
    w = np.arange(substeps)[:, None] / substeps  # [S, 1]
    dense = [q[k] + w * (q[k + 1] - q[k]) for k in range(len(q) - 1)]
    dense = np.vstack([*dense, q[-1:]]) if dense else q
    return np.stack([forward_kinematics(row) for row in dense])
