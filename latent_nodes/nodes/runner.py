"""How every node executable starts, serves and ends: init, build, spin, and a quiet exit.

Each node file's ``main(args=None)`` calls ``run_node``. Ctrl-C, SIGTERM (``ros2 launch`` stopping the
graph) and an external shutdown end the process with one log line and exit status 0, never a
traceback; a node that cannot start (no model file, an invalid parameter) logs one error line and exits
with status ``EXIT_CANNOT_START`` (78, ``EX_CONFIG`` of sysexits.h), so a launch log says what is wrong in
a sentence and ``ros2 launch`` can tell a node that will never start, however often it is restarted, from
one that died while serving (launch/demo.launch.py stops the launch on the first, respawns the second).

Once started, a node keeps serving: ``ServingExecutor`` runs each callback on its own, and an exception
escaping one (a subscription, timer, service or action callback) is logged as one error line naming the
callback, the exception and where it was raised, with the traceback at debug level, and the next
callback runs (``ServingMultiThreadedExecutor`` does the same on a pool of threads, for the teaching
run's one process of several nodes). The same failure repeating (a bad message on every tick) is said
at most once per ``ERROR_REPEAT_S`` with the count of those not said. A node with a ``health`` (nodes/diagnostics.py)
counts ``callback_errors`` and reports ERROR on ``/diagnostics`` for a while after one. A node that can
no longer serve at all (its inference worker thread died) calls ``fail_node``: the process then stops
with status ``EXIT_FAILED`` (1), and ``ros2 launch`` respawns it (launch/demo.launch.py).
"""

from __future__ import annotations

import signal
import threading
import time
import traceback
import weakref
from collections.abc import Callable
from pathlib import Path

import rclpy
from rclpy.exceptions import ParameterException
from rclpy.executors import (
    ConditionReachedException,
    ExternalShutdownException,
    MultiThreadedExecutor,
    ShutdownException,
    SingleThreadedExecutor,
    TimeoutException,
)
from rclpy.node import Node

from latent_nodes.nodes.diagnostics import Health
from latent_nodes.nodes.parameters import refuse_undeclared

# The same callback failing the same way is logged at most once per this many seconds.
ERROR_REPEAT_S = 10.0
# Exit statuses. A start-up failure is a configuration error (a model path, a parameter) that a restart
# cannot mend: sysexits.h's EX_CONFIG (os.EX_CONFIG, spelt out as Windows' os module has none).
EXIT_CANNOT_START = 78
# A node that started and then could no longer serve: restarting it is the remedy.
EXIT_FAILED = 1


class StartupError(RuntimeError):
    """A node cannot start; the message is the one line its log shows."""


def describe_callback(entity) -> str:
    """What an executor entity is, for a log line: its callback's name and what it serves."""
    if entity is None:
        return "a task (a future's done callback or a coroutine)"
    callback = getattr(entity, "callback", None)
    func = getattr(callback, "func", callback)  # functools.partial
    name = getattr(func, "__qualname__", None) or type(entity).__name__
    if hasattr(entity, "topic_name") and not hasattr(entity, "srv_name"):
        return f"{name} (subscription {entity.topic_name})"
    if hasattr(entity, "srv_name"):
        kind = "client" if hasattr(entity, "call_async") else "service"
        return f"{name} ({kind} {entity.srv_name})"
    if hasattr(entity, "timer_period_ns"):
        return f"{name} (timer, {entity.timer_period_ns * 1e-9:g} s)"
    return name


def where_raised(exc: BaseException) -> str:
    """``file.py:line in function`` of the innermost frame of ``exc``'s traceback ('' without one)."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    last = frames[-1]
    return f"{Path(last.filename).name}:{last.lineno} in {last.name}"


class KeepsServing:
    """What a serving executor does with a callback's exception: one line (throttled), a count, serve on.

    Mixed into rclpy's executors below (before them in the bases), so the single- and multi-threaded
    variants say a failure the same way.
    """

    def __init__(self, repeat_s: float = ERROR_REPEAT_S, **kwargs) -> None:
        super().__init__(**kwargs)
        self.repeat_s = repeat_s
        # (callback, exception type) -> (when last logged, failures not logged since)
        self.said: dict[tuple[str, str], tuple[float, int]] = {}
        self.said_lock = threading.Lock()  # callbacks of a multi-threaded executor fail on several threads

    def next_ready(self) -> tuple | None:
        """The next ready ``(handler, entity, node)``, or None after a timeout (look again).

        Raises ``ShutdownException`` when the executor is shut down, and ``ExternalShutdownException``
        when a signal shut the context down while the wait set was being built (rclpy's RCLError there).
        """
        try:
            return self.wait_for_ready_callbacks()
        except (TimeoutException, ConditionReachedException):
            return None
        except RuntimeError:  # rclpy's RCLError: e.g. no wait set on a context a signal just shut down
            if self.context.ok():
                raise
            raise ExternalShutdownException() from None  # a stop, as rclpy says when it sees it first

    def stopping(self, exc: BaseException) -> bool:
        """Whether ``exc`` is the executor being stopped, not a failure: a callback cut short by the shutdown."""
        return isinstance(exc, (ExternalShutdownException, KeyboardInterrupt)) or not self.context.ok()

    def callback_failed(self, what: str, exc: BaseException, node: Node | None) -> None:
        """One error line (throttled per callback and exception type), the traceback at debug, a count."""
        logger = node.get_logger() if node is not None else rclpy.logging.get_logger("latent_nodes")
        health = getattr(node, "health", None)
        if isinstance(health, Health):
            health.callback_failed(what)
        key, now = (what, type(exc).__name__), time.monotonic()
        with self.said_lock:
            said_at, unsaid = self.said.get(key, (None, 0))
            if said_at is not None and now - said_at < self.repeat_s:
                self.said[key] = (said_at, unsaid + 1)
                return
            self.said[key] = (now, 0)
        where = where_raised(exc)
        again = f" ({unsaid} more since the last line)" if unsaid else ""
        logger.error(f"callback {what} failed: {type(exc).__name__}: {exc}"
                     f"{f' at {where}' if where else ''}; serving on{again}")
        logger.debug("".join(traceback.format_exception(exc)))


class ServingExecutor(KeepsServing, SingleThreadedExecutor):
    """A single-threaded executor that survives a failing callback: logged, counted, and on to the next.

    ``rclpy``'s ``spin`` loops on ``spin_once``, which re-raises a callback's exception (rclpy 9.1.2,
    rclpy/executors.py: ``Executor.spin`` L351-354, ``SingleThreadedExecutor._spin_once_impl`` L918-938),
    so one exception ends the node. This ``spin`` takes the same ready callbacks with the public
    ``wait_for_ready_callbacks`` and runs each the same way, but keeps an exception to its callback. The
    callback's bookkeeping (its callback group, the executor's guard condition) is done by rclpy's handler
    in a ``finally`` before the exception reaches here (``Executor._make_handler``), so serving on is safe.
    """

    def spin(self) -> None:
        """Run callbacks until the executor or its context is shut down (the latter raises, as rclpy's)."""
        while self.context.ok():
            try:
                ready = self.next_ready()
            except ShutdownException:
                return
            if ready is None:
                continue
            handler, entity, node = ready
            handler()
            exc = handler.exception()
            if exc is None:
                continue
            if self.stopping(exc):
                raise exc
            self.callback_failed(describe_callback(entity), exc, node)


class ServingMultiThreadedExecutor(KeepsServing, MultiThreadedExecutor):
    """``ServingExecutor`` on a pool of threads, for a process whose callbacks must overlap.

    rclpy's ``MultiThreadedExecutor`` re-raises a callback's exception in the thread that spins, the next
    time it collects its finished callbacks (rclpy 9.1.2, rclpy/executors.py L1014-1017: ``future.result()
    # raise any exceptions``), which ends that spin and every callback with it. Here each callback runs in
    the pool wrapped so that its exception is said (``callback_failed``) in its own thread as soon as it
    ends, and the spinning thread goes on. Callback groups keep their meaning: the ready callbacks come
    from the same ``wait_for_ready_callbacks``.
    """

    def __init__(self, num_threads: int | None = None, **kwargs) -> None:
        super().__init__(num_threads=num_threads, **kwargs)
        self.stopped_by: BaseException | None = None  # a stop seen in a pool thread, raised by ``spin``
        # rclpy yields a task again until it is done (to resume a suspended coroutine), so one handler can
        # reach the pool twice; the second call returns at once (Task.__call__) but sees the same exception.
        self.reported: weakref.WeakSet = weakref.WeakSet()

    def run_callback(self, handler, entity, node) -> None:
        """In a pool thread: run one callback; its failure is one line, a stop is handed to ``spin``."""
        handler()
        exc = handler.exception() if handler.done() else None
        if exc is None:
            return
        with self.said_lock:
            if handler in self.reported:
                return
            self.reported.add(handler)
        if self.stopping(exc):
            self.stopped_by = exc
            self.wake()
            return
        self.callback_failed(describe_callback(entity), exc, node)

    def spin(self) -> None:
        """Hand ready callbacks to the pool until the executor or its context is shut down."""
        while self.context.ok():
            if self.stopped_by is not None:
                raise self.stopped_by
            try:
                ready = self.next_ready()
            except ShutdownException:
                return
            if ready is None:
                continue
            handler, entity, node = ready
            try:  # rclpy's own pool (MultiThreadedExecutor._executor), which its shutdown() joins
                self._executor.submit(self.run_callback, handler, entity, node)
            except RuntimeError:  # the pool was shut down (Executor.shutdown) while this one was ready
                return


def fail_node(node: Node, reason: str) -> None:
    """Stop a node that can no longer serve, from any thread: ``run_node`` logs ``reason``, exits ``EXIT_FAILED``.

    The context is shut down, which wakes and ends the executor's spin; the non-zero status is what makes
    ``ros2 launch`` respawn the node (``respawn=True``), where a clean exit would not be noticed as a fault.
    """
    node.failure = reason
    node.context.try_shutdown()


def run_node(factory: Callable[[], Node], name: str, args: list[str] | None = None) -> int:
    """Build the node with ``factory`` and spin it until it is told to stop; returns the exit status."""
    logger = rclpy.logging.get_logger(name)
    node, started, spinning = None, False, False
    try:
        rclpy.init(args=args)  # its signal handlers turn SIGINT and SIGTERM into a context shutdown
        started = True
        # The executor first: a signal while the node is being built then only stops the node.
        executor = ServingExecutor()
        node = factory()
        logger = node.get_logger()
        refuse_undeclared(node)  # a misspelt parameter name is an error, not a silent default
        executor.add_node(node)
        spinning = True
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (StartupError, ValueError, ParameterException, RuntimeError) as exc:
        # A signal during start-up shuts the context down under the constructor's feet: that is a
        # stop, not a failure. Otherwise this is why the node cannot run (ValueError: a parameter value
        # the schema refuses). Callbacks' errors never get here (ServingExecutor keeps them).
        if spinning:
            if rclpy.ok():
                raise  # the executor itself failed: a bug, with its traceback
        elif not started or rclpy.ok():
            if isinstance(exc, RuntimeError) and not isinstance(exc, StartupError):
                raise
            logger.error(f"cannot start: {exc}")
            return EXIT_CANNOT_START
    finally:
        if threading.current_thread() is threading.main_thread():
            # rclpy's SIGINT handler passes the signal on to Python's, whose KeyboardInterrupt can land at
            # any line of this cleanup (even in a destructor: "Exception ignored ... Traceback"); the
            # node is stopping already, so a further Ctrl-C is ignored until it has.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        if node is not None:
            close = getattr(node, "close", None)
            if close is not None:
                close()
            node.destroy_node()
        rclpy.try_shutdown()
    failure = getattr(node, "failure", None)
    if failure:
        logger.error(f"stopping: {failure}; exit status {EXIT_FAILED}, to be respawned")
        return EXIT_FAILED
    logger.info("shutting down")
    return 0
