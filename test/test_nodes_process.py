"""Node executables as processes: a polite stop is quiet, a failed start is one clear line, a runtime
error is logged and the node serves on, a dead inference worker ends the process with status 1.
"""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from diagnostic_msgs.msg import DiagnosticStatus
from geometry_msgs.msg import PoseStamped
from ros_harness import Graph
from std_msgs.msg import String

from latent_nodes.nodes import messages
from latent_nodes.nodes.diagnostics import ERROR
from latent_nodes.nodes.runner import EXIT_CANNOT_START

FAULTY = str(Path(__file__).resolve().parent / "faulty_nodes.py")


def start(module: str, *ros_args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", module, "--ros-args", *ros_args], env=dict(os.environ),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for_line(proc: subprocess.Popen, text: str, timeout: float = 20.0) -> list[str]:
    lines, end = [], time.monotonic() + timeout
    while time.monotonic() < end:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        lines.append(line)
        if text in line:
            return lines
    proc.kill()
    raise AssertionError(f"{text!r} never appeared; output: {''.join(lines)}")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_ends_a_node_quietly(sig):
    proc = start("latent_nodes.nodes.perception_node", "-p", "perception_source:=list",
                 "-p", "perception_positions:=[0.45, 0.05]", "-p", "perception_rate:=1.0")
    try:
        wait_for_line(proc, "perceiving from")
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert "Traceback" not in out and out.count("shutting down") == 1, out


def test_missing_model_is_one_clear_line(tmp_path):
    missing = tmp_path / "nope.pt"
    proc = start("latent_nodes.nodes.inference_node", "-p", f"model_path:={missing}")
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == EXIT_CANNOT_START, out
    assert "Traceback" not in out
    errors = [line for line in out.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and f"model file {missing} does not exist" in errors[0], out


class Output:
    """A process's merged stdout and stderr, read line by line on a thread (the test never blocks on it)."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.lines: list[str] = []
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self.read, args=(proc,), daemon=True)
        self.reader.start()

    def read(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            with self.lock:
                self.lines.append(line)

    def text(self) -> str:
        with self.lock:
            return "".join(self.lines)

    def count(self, text: str) -> int:
        with self.lock:
            return sum(text in line for line in self.lines)


def statuses(g: Graph, name: str) -> list[DiagnosticStatus]:
    with g.probe.lock:
        return [s for m in g.probe.got[messages.DIAGNOSTICS] for s in m.status if s.name.startswith(name)]


def test_a_failing_callback_is_logged_and_the_node_serves_on():
    proc = subprocess.Popen([sys.executable, FAULTY, "callback"], env=dict(os.environ),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = Output(proc)
    try:
        with Graph() as g:
            echoed: list[str] = []
            g.probe.create_subscription(String, "/faulty/out", lambda m: echoed.append(m.data), 10)
            pub = g.publisher(String, "/faulty/in")
            g.start()
            g.wait_for_subscribers(pub, timeout=30.0)
            for _ in range(3):  # the same failure three times within ERROR_REPEAT_S: one line
                pub.publish(String(data="raise"))
            assert g.wait(lambda: out.count("failed: ValueError") >= 1, timeout=10.0), out.text()
            pub.publish(String(data="hello"))
            assert g.wait(lambda: "hello" in echoed, timeout=10.0), f"the node stopped serving: {out.text()}"
            assert proc.poll() is None, out.text()
            # /diagnostics counts every failure and names the callback, at ERROR.
            def counted() -> bool:
                return any(s.level == bytes([ERROR]) and any(k.key == "callback_errors" and k.value == "3"
                                                             for k in s.values) for s in statuses(g, "echo"))
            assert g.wait(counted, timeout=10.0), [(s.level, s.message, s.values) for s in statuses(g, "echo")[-2:]]
            assert "EchoNode.on_message" in statuses(g, "echo")[-1].message
        errors = [line for line in out.text().splitlines() if "ERROR" in line]
        assert len(errors) == 1, out.text()
        assert ("callback EchoNode.on_message (subscription /faulty/in) failed: ValueError: cannot handle 'raise' "
                "at faulty_nodes.py:" in errors[0]), errors
        assert "cannot start" not in out.text() and "Traceback" not in out.text()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        assert proc.returncode == 0, out.text()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_dead_inference_worker_is_reported_and_the_node_exits_non_zero(tiny_model):
    proc = subprocess.Popen([sys.executable, FAULTY, "worker", "--ros-args", "-p", f"model_path:={tiny_model}"],
                            env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = Output(proc)
    try:
        with Graph() as g:
            pose = g.publisher(PoseStamped, messages.BLOCK_POSE)
            g.start()
            g.wait_for_subscribers(pose, timeout=90.0)  # start-up: torch, the model, the warm-up
            assert g.wait(lambda: statuses(g, "inference"), timeout=10.0), out.text()
            assert all(s.level != bytes([ERROR]) for s in statuses(g, "inference"))
            pose.publish(messages.block_pose([0.45, 0.0], "table"))
            assert g.wait(lambda: proc.poll() is not None, timeout=20.0), f"the node lives on: {out.text()}"
            assert g.wait(lambda: any(s.level == bytes([ERROR]) and "worker died" in s.message
                                      for s in statuses(g, "inference")), timeout=5.0)
        assert proc.returncode == 1, out.text()
        text = out.text()
        assert "the inference worker died: WorkerKilled: killed on purpose by the test" in text, text
        assert "stopping: the inference worker died" in text and "Traceback" not in text, text
    finally:
        if proc.poll() is None:
            proc.kill()
