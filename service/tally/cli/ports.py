"""Whether ``tally serve`` can listen on its port, and if not, which process holds it (read from /proc on Linux).

Checked before the demo prints its tokens: a second ``scripts/server`` used to print working-looking tokens,
signed with a secret of its own, and only then fail to bind (uvicorn exits 3), while those tokens got 401 from
the server already running. Neither uvicorn nor the standard library says who holds a port; ``ss -ltnp`` does,
from the same /proc files read here, but it is not on every machine.
"""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path

PROC = Path("/proc")
LISTEN = "0A"  # the TCP state column of /proc/net/tcp{,6}
MAX_COMMAND = 120


def port_problem(host: str, port: int) -> str | None:
    """None when ``host:port`` can be listened on now; else why not, naming the process that listens there."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is no obstacle
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                return f"cannot listen on {host}:{port}: {exc.strerror}"
            holder = listening_process(port)
            who = holder or f"another process (`ss -ltnp 'sport = :{port}'` shows which)"
            return f"port {port} is already in use by {who}: stop it, or pick another port with --port"
    return None


def listening_process(port: int, proc: Path = PROC) -> str | None:
    """``process PID (command line)`` of a process listening on TCP ``port``; None when /proc does not tell (not
    Linux, or the process belongs to a user whose file descriptors this one may not read)."""
    inodes = _listening_inodes(port, proc)
    if not inodes:
        return None
    sockets = {f"socket:[{inode}]" for inode in inodes}
    for pid_dir in proc.iterdir():
        if pid_dir.name.isdigit() and sockets & _links(pid_dir / "fd"):
            return f"process {pid_dir.name} ({_command(pid_dir)})"
    return None


def _links(fd_dir: Path) -> set[str]:
    """What a process's file descriptors point at (none when they are not ours to read, or the process is gone)."""
    links: set[str] = set()
    try:
        fds = list(fd_dir.iterdir())
    except OSError:
        return links
    for fd in fds:
        try:
            links.add(os.readlink(fd))
        except OSError:  # closed meanwhile (the listing's own descriptor is)
            continue
    return links


def _listening_inodes(port: int, proc: Path) -> set[str]:
    inodes = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (proc / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def _command(pid_dir: Path) -> str:
    try:
        command = " ".join((pid_dir / "cmdline").read_bytes().decode(errors="replace").replace("\0", " ").split())
    except OSError:
        return "command unknown"
    return command if len(command) <= MAX_COMMAND else command[: MAX_COMMAND - 1] + "…"
