"""Node executables as processes: a polite stop is quiet, a failed start is one clear line."""

import os
import signal
import subprocess
import sys
import time

import pytest


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
    assert proc.returncode == 1, out
    assert "Traceback" not in out
    errors = [line for line in out.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and f"model file {missing} does not exist" in errors[0], out
