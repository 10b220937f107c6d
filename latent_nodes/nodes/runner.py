"""How every node executable starts and ends: init, build, spin, and a quiet exit.

Each node file's ``main(args=None)`` calls ``run_node``. Ctrl-C, SIGTERM (``ros2 launch`` stopping the
graph) and an external shutdown end the process with one log line and exit status 0, never a
traceback; a node that cannot start (no model file, an invalid parameter) logs one error line and exits
with status 1, so a launch log says what is wrong in a sentence.
"""

from __future__ import annotations

from collections.abc import Callable

import rclpy
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node

from latent_nodes.nodes.parameters import refuse_undeclared


class StartupError(RuntimeError):
    """A node cannot start; the message is the one line its log shows."""


def run_node(factory: Callable[[], Node], name: str, args: list[str] | None = None) -> int:
    """Build the node with ``factory`` and spin it until it is told to stop; returns the exit status."""
    logger = rclpy.logging.get_logger(name)
    node, started = None, False
    try:
        rclpy.init(args=args)  # its signal handlers turn SIGINT and SIGTERM into a context shutdown
        started = True
        # The executor first: a signal while the node is being built then only stops the node.
        executor = SingleThreadedExecutor()
        node = factory()
        logger = node.get_logger()
        refuse_undeclared(node)  # a misspelt parameter name is an error, not a silent default
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (StartupError, ValueError, ParameterException, RuntimeError) as exc:
        # A signal during start-up shuts the context down under the constructor's feet: that is a
        # stop, not a failure. Otherwise this is why the node cannot run (ValueError: a parameter value
        # the schema refuses).
        if not started or rclpy.ok():
            if isinstance(exc, RuntimeError) and not isinstance(exc, StartupError):
                raise
            logger.error(f"cannot start: {exc}")
            return 1
    finally:
        if node is not None:
            close = getattr(node, "close", None)
            if close is not None:
                close()
            node.destroy_node()
        rclpy.try_shutdown()
    logger.info("shutting down")
    return 0
