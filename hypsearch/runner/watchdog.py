"""The local Ray instance belongs to the run: a watchdog stops it when the driver dies.

`ray.init(address="local")` starts a dozen processes (GCS, raylet, log monitor, dashboard agents,
workers). A driver that exits normally shuts them down; a driver killed with SIGKILL, or by the
out-of-memory killer, used to leave 9-10 of them running. `guard(pids)` starts this module as a
small process in its own session (Ctrl-C in the terminal does not reach it) holding one end of a
pipe; when the driver goes away in any way, the pipe closes, and the watchdog waits a few seconds
for a normal shutdown to finish, then ends every process it was given and all their descendants.
Processes are named by pid and start time, so a reused pid is never touched. Linux only (/proc);
elsewhere `guard` does nothing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Dict, Iterable, List, Optional, Tuple

GRACE_S = 3.0  # after the pipe closes: time for ray.shutdown() to end things itself


def _start_time(pid: int) -> Optional[str]:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return fields[19].decode()  # starttime, field 22 of stat
    except (OSError, IndexError):
        return None


def _children() -> Dict[int, List[int]]:
    out: Dict[int, List[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            out.setdefault(ppid, []).append(int(name))
    return out


def _tree(roots: Iterable[Tuple[int, str]]) -> List[Tuple[int, str]]:
    """The live processes among `roots` (pid, start time) and all their descendants."""
    kids = _children()
    found, stack = [], [p for p in roots if _start_time(p[0]) == p[1]]
    while stack:
        pid, start = stack.pop()
        found.append((pid, start))
        stack.extend((c, s) for c in kids.get(pid, ()) if (s := _start_time(c)) is not None)
    return found


def descendants(pid: int) -> List[Tuple[int, str]]:
    """(pid, start time) of every live descendant of `pid`."""
    return [p for p in _tree([(pid, _start_time(pid) or "")]) if p[0] != pid]


def _end(processes: List[Tuple[int, str]]) -> None:
    for sig, wait in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 0.0)):
        alive = [(p, s) for p, s in processes if _start_time(p) == s]
        for pid, _ in alive:
            try:
                os.kill(pid, sig)
            except OSError:
                pass
        deadline = time.monotonic() + wait
        while alive and time.monotonic() < deadline:
            time.sleep(0.1)
            alive = [(p, s) for p, s in alive if _start_time(p) == s]
        processes = alive


def guard(processes: List[Tuple[int, str]]) -> Optional[subprocess.Popen]:
    """Start a watchdog over `processes`; it ends them once this process has gone (close its stdin
    to hand them over early)."""
    if not sys.platform.startswith("linux") or not processes:
        return None
    # Run by path, not as hypsearch.runner.watchdog: it needs nothing of the package.
    args = [sys.executable, os.path.abspath(__file__)] + [f"{p}:{s}" for p, s in processes]
    return subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, close_fds=True)


def main(argv: List[str]) -> None:
    """Block until stdin closes, then end the given processes and their descendants."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    roots = [(int(p), s) for p, s in (a.split(":", 1) for a in argv)]
    try:
        sys.stdin.buffer.read()
    except OSError:
        pass
    time.sleep(GRACE_S)
    _end(_tree(roots))


if __name__ == "__main__":
    main(sys.argv[1:])
