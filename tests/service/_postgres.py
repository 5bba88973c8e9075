"""A throwaway PostgreSQL server for the tests: ``initdb`` and ``pg_ctl`` in a temporary folder.

The binaries are looked up on ``PATH`` and in Debian's ``/usr/lib/postgresql/*/bin``. As root
(containers, CI) the server runs as the ``postgres`` user (PostgreSQL refuses root) through
``runuser``. It listens on a Unix socket in its folder and a free loopback port, trusts local
connections, and is stopped and deleted at the end of the test session.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["postgres_bin", "postgres_server"]


def postgres_bin() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``, or None where PostgreSQL is absent."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    return None


def free_port() -> int:
    """A TCP port free on loopback now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def postgres_server(folder: Path) -> Iterator[str]:
    """Start a server in ``folder`` and yield its ``postgresql+psycopg://`` URL."""
    binaries = postgres_bin()
    if binaries is None:
        raise FileNotFoundError("initdb not found")
    prefix: list[str] = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    data = folder / "data"
    port = free_port()
    run = {"check": True, "capture_output": True, "timeout": 120}
    subprocess.run(
        [
            *prefix,
            str(binaries / "initdb"),
            "-D",
            str(data),
            "-U",
            "pmargin",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        **run,  # type: ignore[call-overload]
    )
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=on"
    subprocess.run(
        [
            *prefix,
            str(binaries / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(folder / "log"),
            "-w",
            "start",
        ],
        **run,  # type: ignore[call-overload]
    )
    try:
        yield f"postgresql+psycopg://pmargin@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*prefix, str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            timeout=60,
            check=False,
        )
