"""Test isolation for everything that speaks DDS.

Each test session picks its own random ROS domain and keeps discovery on this machine, so tests run by
several people (or CI jobs) at once never see each other's topics and nothing leaves the loopback
interface. This runs at import, before any test can call ``rclpy.init``.
"""

import os
import random
import sys
from pathlib import Path

os.environ["ROS_DOMAIN_ID"] = str(random.SystemRandom().randint(1, 101))  # 1..101: valid for Fast DDS ports
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.pop("ROS_STATIC_PEERS", None)
os.environ.setdefault("RCUTILS_LOGGING_BUFFERED_STREAM", "1")

# The test helpers (synthetic data, the ROS harness) live next to the tests.
sys.path.insert(0, str(Path(__file__).resolve().parent))


import pytest  # noqa: E402 - after the environment is set


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """A small model trained in seconds on synthetic behaviours of the arm's joints (see ros_harness)."""
    from ros_harness import train_tiny_model

    return train_tiny_model(tmp_path_factory.mktemp("model") / "tiny.pt")
