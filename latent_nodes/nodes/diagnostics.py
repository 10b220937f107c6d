"""What a node reports on ``/diagnostics`` once a second: counters, latency percentiles, a level.

``Health`` keeps the figures a node gathers while it works (how long each answer took, what was refused
and why) and publishes them as a diagnostic_msgs/DiagnosticArray, the message rqt_robot_monitor and
Foxglove read. The node decides the level (OK, WARN, ERROR) and the one-line message from its own state;
this file only keeps the numbers and does the publishing. One thing it judges itself, the same for every
node: after a callback failed (nodes/runner.py counts ``callback_errors`` and keeps serving) the level is
ERROR for ``RECENT_S``, with the callback named in the message, whatever the node's own status says.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rclpy.node import Node

from latent_nodes.nodes import messages

OK, WARN, ERROR = (int.from_bytes(DiagnosticStatus.OK, "little"), int.from_bytes(DiagnosticStatus.WARN, "little"),
                   int.from_bytes(DiagnosticStatus.ERROR, "little"))
# How long a refusal or failure keeps the level raised: long enough for a monitor polling at 1 Hz to see it.
RECENT_S = 10.0
CALLBACK_ERRORS = "callback_errors"  # the counter of exceptions that escaped a callback (nodes/runner.py)


class Health:
    """Thread-safe counters and a latency window; ``publish`` sends them with the node's level and message."""

    def __init__(self, node: Node, status: Callable[[], tuple[int, str, dict]], window: int = 500,
                 period_s: float = 1.0) -> None:
        self.node = node
        self.status = status  # the node's (level, message, extra values), called on each publication
        self.lock = threading.Lock()
        self.counts: dict[str, int] = {}
        self.latencies: deque[float] = deque(maxlen=window)
        self.events: dict[str, float] = {}  # event name -> time.monotonic() of its last occurrence
        self.failed_callback = ""  # the callback that failed last (callback_failed)
        self.pub = node.create_publisher(DiagnosticArray, messages.DIAGNOSTICS, 10)
        node.create_timer(period_s, self.publish)

    def count(self, key: str, event: bool = False) -> None:
        """Add one to a counter; ``event`` also remembers when, for ``recent``."""
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + 1
            if event:
                self.events[key] = time.monotonic()

    def callback_failed(self, what: str) -> None:
        """A callback raised (the runner logged it and serves on): counted, and ERROR for a while."""
        with self.lock:
            self.failed_callback = what
        self.count(CALLBACK_ERRORS, event=True)

    def counter(self, key: str) -> int:
        with self.lock:
            return self.counts.get(key, 0)

    def recent(self, key: str, within_s: float = RECENT_S) -> bool:
        """Whether the event ``key`` happened in the last ``within_s`` seconds."""
        with self.lock:
            at = self.events.get(key)
        return at is not None and time.monotonic() - at <= within_s

    def latency(self, seconds: float) -> None:
        with self.lock:
            self.latencies.append(seconds)

    def figures(self) -> dict:
        """Counters and latency percentiles (ms) over the window, as plain values."""
        with self.lock:
            values: dict = dict(self.counts)
            lat = np.array(self.latencies)
        if lat.size:
            values["latency_p50_ms"] = float(1e3 * np.percentile(lat, 50))
            values["latency_p99_ms"] = float(1e3 * np.percentile(lat, 99))
        return values

    def publish(self) -> None:
        level, message, extra = self.status()
        if self.recent(CALLBACK_ERRORS):
            with self.lock:
                what = self.failed_callback
            level, message = ERROR, f"callback {what} failed recently (see the log); {message}"
        values = {**extra, **self.figures()}
        name = f"{self.node.get_name()}: latent_nodes"
        self.pub.publish(messages.diagnostic_array(self.node.get_clock().now().to_msg(), name, level, message, values))
