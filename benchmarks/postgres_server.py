"""A throwaway PostgreSQL server for the tests and the benchmarks (one place for both).

Debian's ``postgresql`` package (``.ci/run`` installs it when missing) puts ``initdb``,
``pg_ctl`` and ``postgres`` under ``/usr/lib/postgresql/<version>/bin``. PostgreSQL
refuses to run as root, so when this runs as root the server runs as an unprivileged
user (``nobody`` by default) through ``runuser``; its data directory is a fresh temporary
folder owned by that user. The server listens on ``127.0.0.1`` on a free port and on a
unix socket inside that folder; clients connect over TCP with a role and a password (so
every DSN the tests use holds credentials, as in production).

The tests import it from ``tests/conftest.py`` (``pythonpath = ["."]`` in pyproject puts
the checkout on ``sys.path``); ``benchmarks/sql.py`` imports it directly.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

__all__ = ["PostgresServer", "postgres_bin_dir"]

#: the unprivileged user the server runs as when this process is root
SERVER_USER = "nobody"


def postgres_bin_dir() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``: Debian's newest
    ``/usr/lib/postgresql/<version>/bin``, else the one ``pg_ctl`` is found in on ``PATH``;
    ``None`` when PostgreSQL is not installed."""

    def version(path: str) -> tuple[int, ...]:
        name = Path(path).parent.name
        return tuple(int(part) for part in name.split(".") if part.isdigit())

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=version)
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl is not None and shutil.which("initdb") is not None:
        return Path(pg_ctl).parent
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """Initialises, starts, stops and restarts one PostgreSQL server in a temporary folder.

    Use it as a context manager (started on entering; stopped and its folder removed on
    leaving), or call :meth:`start` and :meth:`close`. Data survives :meth:`stop` then
    :meth:`start`.

    :param fsync: ``False`` (``fsync=off``) for speed where a power cut is not tested;
        a clean or an immediate stop keeps every committed row either way
    :param database: the database made for the role :attr:`user`
    """

    def __init__(self, *, fsync: bool = False, database: str = "asyncflag") -> None:
        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            raise FileNotFoundError(
                "PostgreSQL is not installed (no initdb/pg_ctl): on Debian, "
                "apt-get install postgresql (.ci/run does)"
            )
        self.bin_dir = bin_dir
        self.fsync = fsync
        self.database = database
        self.user = "asyncflag"
        self.password = secrets.token_hex(16)
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="asyncflag-postgres-"))
        self.data = self.directory / "data"
        self.socket_dir = self.directory / "socket"
        self.log = self.directory / "server.log"
        self._as_user: list[str] = []
        self._databases = 0
        self._initialised = False

    @property
    def dsn(self) -> str:
        """``postgresql://asyncflag:<password>@127.0.0.1:<port>/<database>``."""
        return self.dsn_of(self.database)

    def dsn_of(self, database: str) -> str:
        """The DSN of another database of this server (see :meth:`create_database`)."""
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """Create an empty database owned by the role (``test_1``, ``test_2``...), for one
        test; return its DSN."""
        self._databases += 1
        name = f"test_{self._databases}"
        self._psql(f"CREATE DATABASE {name} OWNER {self.user}")
        return self.dsn_of(name)

    def __enter__(self) -> PostgresServer:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _run(self, *command: str, user: bool = True) -> None:
        prefix = self._as_user if user else []
        completed = subprocess.run(
            [*prefix, *command],
            cwd=self.directory,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if completed.returncode != 0:
            log = self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""
            raise RuntimeError(
                f"{Path(command[0]).name} failed ({completed.returncode}):\n"
                f"{completed.stdout}{completed.stderr}\n{log}"
            )

    def _initialise(self) -> None:
        """``initdb`` as the unprivileged user, the settings, then the role and database."""
        if os.geteuid() == 0:  # PostgreSQL refuses root: run it as SERVER_USER
            entry = pwd.getpwnam(SERVER_USER)
            os.chown(self.directory, entry.pw_uid, entry.pw_gid)
            self._as_user = ["runuser", "-u", SERVER_USER, "--"]
            owner: tuple[int, int] | None = (entry.pw_uid, entry.pw_gid)
        else:
            owner = None
        self.socket_dir.mkdir()
        superuser_password = self.directory / "superuser-password"
        superuser_password.write_text(secrets.token_hex(16) + "\n")
        for path in (self.socket_dir, superuser_password):
            if owner is not None:
                os.chown(path, *owner)
        self._run(
            str(self.bin_dir / "initdb"),
            "-D", str(self.data), "-U", "postgres", "-E", "UTF8", "--no-locale",
            "--auth-local=trust", "--auth-host=scram-sha-256",
            f"--pwfile={superuser_password}", "--no-sync",
        )  # fmt: skip
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.socket_dir}'",
            "fsync": "on" if self.fsync else "off",
            "full_page_writes": "on" if self.fsync else "off",
            "max_connections": "100",
            "shared_buffers": "32MB",
            "log_min_messages": "warning",
        }
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("\n# asyncflag's throwaway test server\n")
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        self._start_server()
        self._psql(
            f"CREATE ROLE {self.user} LOGIN PASSWORD '{self.password}'",
            f"CREATE DATABASE {self.database} OWNER {self.user}",
        )
        self._initialised = True

    def _psql(self, *statements: str) -> None:
        """Run statements as the superuser over the unix socket (trusted there)."""
        command = [str(self.bin_dir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1"]
        command += ["-h", str(self.socket_dir), "-p", str(self.port), "-U", "postgres"]
        command += ["-d", "postgres"]
        for statement in statements:
            command += ["-c", statement]
        self._run(*command, user=False)

    def _start_server(self) -> None:
        self._run(
            str(self.bin_dir / "pg_ctl"), "start", "-w", "-t", "60",
            "-D", str(self.data), "-l", str(self.log),
        )  # fmt: skip

    def start(self) -> None:
        """Start the server (initialising it the first time); return once it accepts."""
        if not self._initialised:
            self._initialise()
        else:
            self._start_server()
        deadline = time.monotonic() + 30
        while True:  # pg_ctl -w waited for the socket; make sure TCP answers too
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: ``"fast"`` (clients disconnected, a clean shutdown) or
        ``"immediate"`` (as a crash: recovery from the WAL on the next start)."""
        if self._initialised and (self.data / "postmaster.pid").exists():
            self._run(
                str(self.bin_dir / "pg_ctl"), "stop", "-w", "-t", "60", "-m", mode,
                "-D", str(self.data),
            )  # fmt: skip

    def close(self) -> None:
        """Stop the server and remove its folder."""
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)
