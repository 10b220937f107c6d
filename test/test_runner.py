"""Serving executors in-process: a failing callback is logged, throttled, counted, and the next one runs.

Both ``ServingExecutor`` (every node process) and ``ServingMultiThreadedExecutor`` (the teaching run's
process of several nodes), where rclpy's ``MultiThreadedExecutor`` ends its spin on the first failure.
"""

import contextlib
import threading
import time

import pytest
import rclpy
from rcl_interfaces.msg import Log
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from ros_harness import Probe
from std_msgs.msg import String

from latent_nodes.nodes.diagnostics import OK, Health
from latent_nodes.nodes.runner import ServingExecutor, ServingMultiThreadedExecutor


def wait(predicate, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end and not predicate():
        time.sleep(0.01)
    return bool(predicate())


class Faulty(Node):
    """Raises for "raise" on /runner_test/in, echoes anything else on /runner_test/out."""

    def __init__(self, context) -> None:
        super().__init__("faulty", context=context)
        self.pub = self.create_publisher(String, "/runner_test/out", 10)
        self.create_subscription(String, "/runner_test/in", self.on_message, 10)
        self.health = Health(self, lambda: (OK, "serving", {}), period_s=60.0)

    def on_message(self, msg: String) -> None:
        if msg.data == "raise":
            raise KeyError(msg.data)
        self.pub.publish(msg)


@contextlib.contextmanager
def faulty_graph(make, spin):
    """A Faulty node and a probe on the executor ``make(context)``, spun by ``spin(executor)`` in a thread.

    Yields (node, probe, publisher to the node, messages it echoed, the spinning thread); shuts all down after.
    """
    context = rclpy.Context()
    rclpy.init(context=context)
    executor = make(context)
    node, probe = Faulty(context), Probe(context)
    echoed: list[str] = []
    probe.create_subscription(String, "/runner_test/out", lambda m: echoed.append(m.data), 10)
    pub = probe.create_publisher(String, "/runner_test/in", 10)
    for n in (node, probe):
        executor.add_node(n)
    spinner = threading.Thread(target=spin, args=(executor,), daemon=True)
    spinner.start()
    try:
        yield node, probe, pub, echoed, spinner
    finally:
        executor.shutdown(timeout_sec=2.0)
        spinner.join(timeout=5.0)
        node.destroy_node()
        probe.destroy_node()
        rclpy.try_shutdown(context=context)


SERVING = {"single": lambda context: ServingExecutor(repeat_s=1.0, context=context),
           "multi": lambda context: ServingMultiThreadedExecutor(repeat_s=1.0, num_threads=2, context=context)}


@pytest.mark.parametrize("threads", list(SERVING))
def test_a_repeating_failure_is_one_line_per_period_with_the_count_of_those_not_logged(threads):
    with faulty_graph(SERVING[threads], lambda executor: executor.spin()) as (node, probe, pub, echoed, _):
        assert wait(lambda: pub.get_subscription_count() >= 1)
        for _ in range(5):
            pub.publish(String(data="raise"))
        assert wait(lambda: node.health.counter("callback_errors") == 5)
        pub.publish(String(data="hello"))
        assert wait(lambda: echoed == ["hello"]), "the node serves the next message"
        time.sleep(1.0)  # the throttle period passes
        pub.publish(String(data="raise"))
        assert wait(lambda: len(probe.logs("faulty", Log.ERROR)) == 2)
        first, second = probe.logs("faulty", Log.ERROR)
        assert first.startswith("callback Faulty.on_message (subscription /runner_test/in) failed: KeyError: 'raise' "
                                "at test_runner.py:") and first.endswith("in on_message; serving on"), first
        assert second.endswith("serving on (4 more since the last line)"), second
        assert node.health.counter("callback_errors") == 6 and node.health.failed_callback.startswith("Faulty.")


def spin_with_one_failure(make) -> tuple[bool, list[str], bool]:
    """(spin ended, exceptions it raised, a later message served) for an executor that meets one failure."""
    ended: list[BaseException] = []

    def spin(executor) -> None:
        try:
            executor.spin()
        except KeyError as exc:
            ended.append(exc)

    with faulty_graph(make, spin) as (node, _, pub, echoed, spinner):
        assert wait(lambda: pub.get_subscription_count() >= 1)
        pub.publish(String(data="raise"))
        assert wait(lambda: node.health.counter("callback_errors") == 1 or bool(ended))
        for _ in range(20):  # rclpy collects a finished callback's exception when the next one is ready
            pub.publish(String(data="hello"))
            if wait(lambda: bool(echoed) or bool(ended), 0.5):
                break
        spinner.join(timeout=2.0 if ended else 0.5)
        return not spinner.is_alive(), [type(e).__name__ for e in ended], bool(echoed)


def test_rclpy_multi_threaded_spin_ends_on_a_failing_callback_where_the_serving_one_goes_on():
    """Why the teaching run spins ServingMultiThreadedExecutor: with rclpy's, one exception ends every callback."""
    ended, raised, _ = spin_with_one_failure(lambda c: MultiThreadedExecutor(num_threads=2, context=c))
    assert ended and raised == ["KeyError"]
    assert spin_with_one_failure(lambda c: ServingMultiThreadedExecutor(num_threads=2, context=c)) == (False, [], True)
