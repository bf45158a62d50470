"""Throwaway PostgreSQL and Redis servers on free loopback ports, for tests, benchmarks
and the crash-safety campaign, which also stops and starts them mid-run.

They use Debian's binaries (``make test`` installs the packages postgresql and
redis-server); PostgreSQL refuses to run as root, so as root it runs as ``postgres``.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(
            "PostgreSQL server binaries not found; `make test` installs the Debian package "
            "postgresql (apt-get install postgresql)"
        )
    return found[-1]


def _as_server_user(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@dataclass
class PostgresServer:
    """A PostgreSQL cluster in a temporary folder; ``url`` is its admin database."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="salesync-pg-")))
    port: int = field(default_factory=free_port)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://salesync@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        data = str(self.root / "data")
        subprocess.run(  # noqa: S603 -- Debian's own binaries, by absolute path
            _as_server_user([_pg_bin("pg_ctl"), "-D", data, *args]),
            check=True,
            capture_output=True,
        )

    def create(self) -> PostgresServer:
        sockets = self.root / "sock"
        sockets.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
            shutil.chown(sockets, "postgres")
        initdb = [_pg_bin("initdb"), "-D", str(self.root / "data"), "-U", "salesync"]
        subprocess.run(  # noqa: S603 -- Debian's own binaries, by absolute path
            _as_server_user([*initdb, "--auth=trust", "-E", "UTF8"]),
            check=True,
            capture_output=True,
        )
        self.start()
        return self

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root / 'sock'} -c listen_addresses=127.0.0.1 -c fsync=off"
        )
        self._ctl("-o", options, "-l", str(self.root / "log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop it (``immediate``: as if the machine lost power)."""
        self._ctl("-m", mode, "-w", "stop")

    def destroy(self) -> None:
        subprocess.run(  # noqa: S603 -- Debian's own binaries, by absolute path
            _as_server_user(
                [_pg_bin("pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "stop"]
            ),
            check=False,
            capture_output=True,
        )
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class RedisServer:
    """``redis-server`` keeping nothing on disk: a restart forgets everything, the worst
    case for whatever relies on it."""

    port: int = field(default_factory=free_port)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="salesync-redis-")))
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(
                "redis-server not found; `make test` installs the Debian package redis-server"
            )
        options = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(  # noqa: S603 -- redis-server found on PATH
            [binary, "--port", str(self.port), *options],
            cwd=self.root,
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class WorkerProcesses:
    """``salesync worker`` processes of this interpreter started with ``env``, each
    logging to ``home/worker-N.log``; stopped with SIGTERM, then killed after ``grace``
    seconds (the crash campaign, the fan-out benchmark and the Celery tests run them)."""

    env: dict[str, str]
    home: Path
    grace: float = 20.0
    running: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[IO[bytes]] = field(default_factory=list)

    def start(self, *arguments: str) -> subprocess.Popen[bytes]:
        """One more worker: ``salesync worker`` with ``arguments``."""
        command = [sys.executable, "-m", "salesync", "worker", *arguments]
        log = (self.home / f"worker-{len(self.running)}.log").open("wb")
        self.logs.append(log)
        process = subprocess.Popen(  # noqa: S603 -- this interpreter running salesync
            command, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        self.running.append(process)
        return process

    def live(self) -> list[subprocess.Popen[bytes]]:
        return [p for p in self.running if p.poll() is None]

    def stop(self) -> None:
        for process in self.live():
            process.send_signal(signal.SIGTERM)
        for process in self.running:
            try:
                process.wait(timeout=self.grace)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in self.logs:
            log.close()
