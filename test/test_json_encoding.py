"""What the nodes publish as JSON (``/inference/result``) is strict JSON whatever the figures hold."""

import json
import math

import numpy as np

from latent_nodes.nodes import messages


def test_non_finite_values_are_null_at_any_depth():
    payload = {
        "error": float("nan"),
        "errors": {"reach": 1e-3, "reach_circle": float("inf")},  # one behaviour's error diverged
        "nested": {"a": [1.0, {"b": (np.float32("nan"), -math.inf)}]},
        "z": np.array([[0.5, np.nan], [np.inf, -1.0]]),
        "scalars": [np.float64(np.nan), np.int64(3), np.bool_(True), np.float32(0.25)],
        "count": 7,
        "label": "reach",
        "none": None,
    }
    decoded = json.loads(messages.json_string(payload).data)
    assert decoded == {
        "error": None,
        "errors": {"reach": 1e-3, "reach_circle": None},
        "nested": {"a": [1.0, {"b": [None, None]}]},
        "z": [[0.5, None], [None, -1.0]],
        "scalars": [None, 3, True, 0.25],
        "count": 7,
        "label": "reach",
        "none": None,
    }


def test_numpy_keys_and_types_come_out_as_plain_json():
    plain = messages.json_plain({np.int64(2): np.arange(3, dtype=np.int32), "ok": np.bool_(False)})
    assert plain == {"2": [0, 1, 2], "ok": False}
    assert type(plain["ok"]) is bool and all(type(v) is int for v in plain["2"])
