"""One run per experiment directory at a time: `DIR/.lock`.

The lock is an advisory `flock` on `DIR/.lock`, held for the whole run. The kernel drops it when
the holder exits in any way (SIGKILL included), so a crashed run never leaves it stuck; the file
stays behind and only tells who held it last (pid, host, start time). A second run on the same
directory gets a HypError naming the holder instead of running trials twice with reused ids.
flock works between processes of one machine and on most network file systems; a directory shared
by several machines without lock support is not protected (documented in docs/ray.md).
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
import time
from typing import Optional

from hypsearch.dsl.errors import HypError

LOCK_NAME = ".lock"


class DirectoryLock:
    """Holds the lock of one experiment directory; `release` (or exit) frees it."""

    def __init__(self, directory: str):
        self.path = os.path.join(directory, LOCK_NAME)
        self._fd: Optional[int] = None

    def acquire(self) -> "DirectoryLock":
        """Take the lock, or raise HypError naming the run that holds it."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)  # not inherited by child processes
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _describe(fd)
            os.close(fd)
            raise HypError(f"{os.path.dirname(self.path)} is in use by another run ({holder}); wait for it to "
                           f"finish or stop it, then resume") from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": platform.node(), "since": time.time()}).encode())
        self._fd = fd
        return self

    def release(self) -> None:
        """Free the lock (the file stays: it names the last holder)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "DirectoryLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _describe(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode("utf-8") or "{}")
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(info["since"])))
        return f"pid {int(info['pid'])} on host {info['host']}, started {since}"
    except (ValueError, KeyError, TypeError, OSError):
        return "holder unknown"
