"""Atomic file writes: a reader sees the old file or the new one, never half of either.

The new content goes to a temporary file beside the target, ``.<name>.<pid>@<host>.<random>.tmp``, which
then replaces the target in one ``os.replace``. A writer killed outright (``kill -9``, power loss) leaves
its temporary file behind; the next write of the same target removes such leftovers: those written on
this host by a process that is gone, and any an hour old (no write takes that long). A recent file of a
live writer, or of any writer on another host sharing the directory, is never touched.
"""

from __future__ import annotations

import os
import re
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

STALE_AFTER_S = 3600.0  # no write takes this long: an older temporary file is abandoned
# This host's name as it may stand in a file name (pids are only meaningful on the host that wrote them).
HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:64] or "host"


def check_target(path: str | Path) -> None:
    """Refuse, before any work, a target that cannot be written: a directory, or a path under a file.

    Raises ``NotADirectoryError`` / ``IsADirectoryError`` with one line naming the culprit, where
    ``mkdir`` or ``open`` would fail later with a less telling message.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"cannot write {path}: it is a directory")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise NotADirectoryError(f"cannot write {path}: {parent} is a file, not a directory")
            return


def _writer_gone(pid: int) -> bool:
    """True if no process ``pid`` exists on this machine (so its temporary file is abandoned)."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # it exists, under another user
        return False
    return False


def remove_stale_temporaries(path: str | Path) -> list[Path]:
    """Remove temporary files that interrupted writes of ``path`` left beside it; returns what was removed."""
    path = Path(path)
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(?:(\d+)(?:@([A-Za-z0-9-]+))?\.)?[^.]+\.tmp")
    removed = []
    try:
        siblings = list(path.parent.iterdir())
    except OSError:  # no directory yet: nothing left behind
        return removed
    now = time.time()
    for tmp in siblings:
        match = pattern.fullmatch(tmp.name)
        if not match:
            continue
        try:
            pid, host = match.group(1), match.group(2)
            # A pid says something only on the host that wrote it; an hour is the limit for every writer
            # (its pid may have been reused, or it wrote from another host sharing this directory).
            ours = pid is not None and host == HOST
            stale = (ours and _writer_gone(int(pid))) or now - tmp.stat().st_mtime > STALE_AFTER_S
            if stale:
                tmp.unlink()
                removed.append(tmp)
        except FileNotFoundError:  # its writer finished (or another cleaner came first)
            continue
    return removed


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path in the target's directory; on success it replaces ``path`` atomically.

    The temporary file lives beside the target so that ``os.replace`` stays on one filesystem (and so
    is atomic). On any error the temporary file is removed and the old file is left untouched.
    """
    path = Path(path)
    check_target(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}@{HOST}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    # mkstemp creates 0600; give the file the permissions a plain open() would (0666 less the umask).
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)
    try:
        yield tmp_path
        with open(tmp_path, "rb") as fh:  # flush to disk before the rename makes it visible
            os.fsync(fh.fileno())
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def save_png(fig, path: str | Path, dpi: float | None = None) -> Path:
    """Save a matplotlib figure as a PNG at ``path`` atomically (``dpi`` None: the figure's); returns the path.

    A plot is often written beside results someone is reading; a half-written PNG must never replace a
    good one. Closing a pyplot figure stays with the caller, which made it.
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    return path


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_bytes_atomic(path, text.encode("utf-8"))
