"""How every node executable starts and ends: init, build, spin, and a quiet exit.

Each node file's ``main(args=None)`` calls ``run_node``. Ctrl-C, SIGTERM (``ros2 launch`` stopping the
graph) and an external shutdown end the process with one log line and exit status 0, never a
traceback; a node that cannot start (no model file, an invalid parameter) logs one error line and exits
with status 1, so a launch log says what is wrong in a sentence.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable

import rclpy
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node


class StartupError(RuntimeError):
    """A node cannot start; the message is the one line its log shows."""


def run_node(factory: Callable[[], Node], name: str, args: list[str] | None = None) -> int:
    """Build the node with ``factory`` and spin it until it is told to stop; returns the exit status."""
    logger = rclpy.logging.get_logger(name)
    # A pip install registers the package (models, config) in the ament index under sys.prefix; outside a
    # sourced ROS 2 environment nothing points there.
    os.environ.setdefault("AMENT_PREFIX_PATH", sys.prefix)
    node = None
    try:
        rclpy.init(args=args)
        # rclpy turns SIGINT into a shutdown; SIGTERM gets the same treatment so that a launch
        # system's polite stop is as quiet as Ctrl-C.
        signal.signal(signal.SIGTERM, lambda signum, frame: rclpy.try_shutdown())
        node = factory()
        logger = node.get_logger()
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        executor.spin()
        logger.info("shutting down")
    except (KeyboardInterrupt, ExternalShutdownException):
        logger.info("shutting down")
    except (StartupError, ValueError, ParameterException) as exc:  # ValueError: a value the schema refuses
        logger.error(f"cannot start: {exc}")
        return 1
    finally:
        if node is not None:
            close = getattr(node, "close", None)
            if close is not None:
                close()
            node.destroy_node()
        rclpy.try_shutdown()
    return 0
