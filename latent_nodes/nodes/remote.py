"""Driving other nodes from a script's own node: waiting, calling a service, setting a parameter.

The demo and the teaching run both talk to the package's nodes only over ROS, from a main thread while
an executor spins on another; these are the three steps they share. Each failure is a RuntimeError
whose message names the service or node, so a script prints one line and stops.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


def wait_until(predicate: Callable[[], bool], timeout: float, *, lock: threading.Lock | None = None,
               poll: float = 0.005) -> bool:
    """Whether ``predicate()`` became true within ``timeout`` seconds (evaluated under ``lock``, if given).

    Polling, because the answers arrive on the executor's thread; ``poll`` is coarse enough to leave that
    thread the interpreter.
    """
    def check() -> bool:
        if lock is None:
            return bool(predicate())
        with lock:
            return bool(predicate())

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(poll)
    return check()


def call_service(client, request, timeout: float = 5.0):
    """The response of ``client`` to ``request``, or RuntimeError if the service is absent or silent."""
    if not client.wait_for_service(timeout_sec=timeout):
        raise RuntimeError(f"service {client.srv_name} is not available")
    future = client.call_async(request)
    if not wait_until(future.done, timeout):
        raise RuntimeError(f"service {client.srv_name} did not answer")
    return future.result()


def set_remote_parameter(params, who: str, name: str, value, refused: str, timeout: float = 5.0) -> None:
    """Set parameter ``name`` of the node behind ``params`` (an AsyncParameterClient), called ``who`` in
    messages; ``refused``: the RuntimeError's message if the node does not take the value.
    """
    from rclpy.parameter import Parameter

    if not params.wait_for_services(timeout_sec=timeout):
        raise RuntimeError(f"{who}'s parameter services are not available")
    future = params.set_parameters([Parameter(name, value=value)])
    if not wait_until(future.done, timeout) or not future.result().results[0].successful:
        raise RuntimeError(refused)
