"""The embedded MuJoCo world: a 9-joint Torobo-like arm, a table and a red block (no rclpy here).

MuJoCo picks its OpenGL backend when it is first imported. On a Linux machine without a display the
default (GLFW) cannot render, so unless MUJOCO_GL is set we choose OSMesa (software rendering, Debian's
libosmesa6), which works on any CPU-only machine. Only rendering needs it; physics never does.
"""

import os
import sys

if sys.platform.startswith("linux") and not os.environ.get("MUJOCO_GL") and not os.environ.get("DISPLAY") \
        and "mujoco" not in sys.modules:
    os.environ["MUJOCO_GL"] = "osmesa"
