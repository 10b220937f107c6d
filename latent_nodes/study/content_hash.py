"""A study's content hash: the short, stable name of whatever decides a result.

Run identities (``plan.py``), dataset keys (``datasets.py``) and test-set keys (``test_sets.py``) all
name their files by it, so it lives on its own: each of them imports it, and none imports another for it.
"""

from __future__ import annotations

import hashlib
import json


def content_hash(obj) -> str:
    """12 hex digits of the SHA-256 of an object's canonical JSON (sorted keys, no spaces)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:12]
