"""Who holds a claim: a process identity stored with each in-flight delivery.

`serving_identity()` names this process so that another one on the same machine can tell,
from the identity alone, whether it is still alive: host name, boot, PID namespace, PID
and the PID's start time (a PID is reused; a PID with its start time is not). `serve`
names each of its delivery processes `<its own identity>|<slot>.<start>`, so that:

- when a delivery process dies, `serve` gives its work back at once (`release_owner`);
- when `serve` died (its delivery processes die with it), the next relay started on the
  same machine finds the identity dead and gives the work back at start, instead of
  leaving it to the lease (PostgreSQL; a SQLite file has one relay, which recovers all).
"""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path

SEPARATOR = "|"
_FIELDS = 5  # host, boot, pid namespace, pid, start time


def serving_identity(pid: int | None = None) -> str:
    pid = os.getpid() if pid is None else pid
    return SEPARATOR.join((*_machine(), str(pid), _start_time(pid)))


def machine_prefix() -> str:
    """What every identity made on this machine (and PID namespace) starts with."""
    return SEPARATOR.join(_machine()) + SEPARATOR


def is_dead_here(owner: str) -> bool:
    """Whether `owner` names a process of this machine and PID namespace that has ended.
    An identity of another machine is never dead here: its lease decides."""
    parts = owner.split(SEPARATOR)
    if len(parts) < _FIELDS or SEPARATOR.join(parts[:3]) + SEPARATOR != machine_prefix():
        return False
    pid, started = parts[3], parts[4]
    if not pid.isdigit():
        return False
    return _start_time(int(pid)) != started


def _machine() -> tuple[str, str, str]:
    boot = ""
    with contextlib.suppress(OSError):
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    namespace = ""
    with contextlib.suppress(OSError):
        namespace = os.readlink("/proc/self/ns/pid")
    return socket.gethostname().replace(SEPARATOR, "_"), boot, namespace


def _start_time(pid: int) -> str:
    """The PID's start time in clock ticks since boot ("" when no such process)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    # The command name (field 2) may hold spaces and parentheses: split after its end.
    fields = stat[stat.rindex(")") + 2 :].split()
    return "" if fields[0] == "Z" else fields[19]  # field 22 of stat; a zombie has ended
