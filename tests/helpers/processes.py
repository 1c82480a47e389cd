"""Start real servers (relay, sandbox) as subprocesses on free loopback ports."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "kameleoon_relay"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    proc: subprocess.Popen
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def wait_until_up(url: str, proc: subprocess.Popen, log_path: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log_path.read_text(errors='replace')}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"server did not start:\n{log_path.read_text(errors='replace')}")


def start_server(
    args: list[str],
    log_path: Path,
    port: int | None = None,
    env: dict[str, str] | None = None,
    health_path: str = "/",
    cwd: Path | None = None,
) -> Server:
    """Run `kameleoon-relay ARGS --port PORT` and wait until it answers HTTP."""
    port = port or free_port()
    full_env = {**os.environ, **(env or {})}
    log = open(log_path, "ab")  # noqa: SIM115 - kept open for the child's lifetime
    proc = subprocess.Popen(
        [*CLI, *args, "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=full_env,
        cwd=cwd or REPO,
    )
    wait_until_up(f"http://127.0.0.1:{port}{health_path}", proc, log_path)
    return Server(proc, port, log_path)


@contextlib.contextmanager
def running(args: list[str], log_path: Path, **kwargs) -> Iterator[Server]:
    server = start_server(args, log_path, **kwargs)
    try:
        yield server
    finally:
        server.stop()
