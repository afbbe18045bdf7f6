"""Throwaway servers that multi-node tests and ``bench/scale.py`` start for themselves:
PostgreSQL (``initdb`` into a temporary directory), an S3-compatible server (moto's
standalone server) and nginx (as a foreground process with its own prefix and config).

Each has ``start()`` / ``stop()`` and is a context manager; ``missing()`` names the binary
that is truly absent on this machine (the callers skip then), else None.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Self

import httpx

__all__ = ["free_port", "pg_bin", "nginx_bin", "Postgres", "S3Server", "Nginx", "wait_for_port"]

_AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[Any] | None, what: str,
                  timeout: float = 30) -> None:
    """Wait until something accepts connections on ``port`` (and ``proc`` has not died)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited during start-up (code {proc.returncode})")
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on port {port} within {timeout:g} s")


def pg_bin() -> Path | None:
    """The newest installed PostgreSQL's ``bin`` directory (Debian layout), or None."""
    found = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").exists()]
    if not found:
        return None
    return max(found, key=lambda p: [int(x) for x in p.parent.name.split(".") if x.isdigit()])


def nginx_bin() -> str | None:
    """The nginx binary (often in /usr/sbin, outside a user's PATH), or None."""
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None)


def _end(proc: subprocess.Popen[Any] | None) -> None:
    """SIGTERM a process and wait; SIGKILL it if it is still there after 10 s."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class _Server:
    def __enter__(self) -> Self:
        return self.start()  # type: ignore[attr-defined,no-any-return]

    def __exit__(self, *exc: object) -> None:
        self.stop()  # type: ignore[attr-defined]


class Postgres(_Server):
    """A PostgreSQL server in a temporary directory (run as ``postgres`` when we are root)."""

    def __init__(self, *, max_connections: int = 200) -> None:
        self.port = free_port()
        self.max_connections = max_connections
        self.work: Path | None = None
        self.bin = pg_bin()

    @property
    def url(self) -> str:
        """SQLAlchemy URL of its ``cunxiang`` database."""
        return f"postgresql+psycopg://cunxiang@127.0.0.1:{self.port}/cunxiang"

    def _run(self, *args: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if _AS_ROOT else []
        subprocess.run([*prefix, *args], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)

    def start(self) -> Postgres:
        """initdb, start, create the ``cunxiang`` database."""
        assert self.bin is not None, "PostgreSQL is not installed"
        # Not under the test run's private (0700, root-owned) TMPDIR: postgres must reach it.
        self.work = Path(tempfile.mkdtemp(prefix="cx-pg-", dir="/tmp"))
        if _AS_ROOT:
            shutil.chown(self.work, "postgres")
        data = self.work / "data"
        self._run(str(self.bin / "initdb"), "-D", str(data), "-A", "trust", "-U", "cunxiang",
                  "-E", "UTF8")
        options = (f"-p {self.port} -k {self.work} -c listen_addresses=127.0.0.1 -c fsync=off "
                   f"-c synchronous_commit=off -c max_connections={self.max_connections}")
        self._run(str(self.bin / "pg_ctl"), "-D", str(data), "-w", "-l",
                  str(self.work / "server.log"), "-o", options, "start")
        subprocess.run([str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                        "-U", "cunxiang", "cunxiang"], check=True)
        return self

    def postmaster_pid(self) -> int:
        """The server's main process."""
        assert self.work is not None
        return int((self.work / "data" / "postmaster.pid").read_text().split()[0])

    def stop(self) -> None:
        """Stop at once and remove its directory."""
        if self.work is None or self.bin is None:
            return
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.work / "data"), "-m",
                      "immediate", "stop")
        shutil.rmtree(self.work, ignore_errors=True)
        self.work = None


class S3Server(_Server):
    """moto's standalone S3 server on a free port, with one bucket."""

    ACCESS_KEY = "cunxiang-test"
    SECRET_KEY = "cunxiang-test-secret"  # moto accepts any credentials

    def __init__(self, bucket: str = "cunxiang-media") -> None:
        self.port = free_port()
        self.bucket = bucket
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        """The server's URL (``CUNXIANG_S3_ENDPOINT_URL``)."""
        return f"http://127.0.0.1:{self.port}"

    def env(self, prefix: str = "media") -> dict[str, str]:
        """The settings of a node that keeps its media in this server's bucket."""
        return {"CUNXIANG_MEDIA_URL": f"s3://{self.bucket}/{prefix}",
                "CUNXIANG_S3_ENDPOINT_URL": self.endpoint,
                "CUNXIANG_S3_ACCESS_KEY_ID": self.ACCESS_KEY,
                "CUNXIANG_S3_SECRET_ACCESS_KEY": self.SECRET_KEY,
                "CUNXIANG_S3_ADDRESSING_STYLE": "path"}

    def client(self) -> Any:
        """A boto3 client of this server (for checks from outside the service)."""
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=self.ACCESS_KEY,
                            aws_secret_access_key=self.SECRET_KEY)

    def start(self) -> S3Server:
        """Start the server and create the bucket."""
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, self.proc, "the S3 server")
        httpx.get(self.endpoint, timeout=30)  # the first request loads moto's S3 backend
        self.client().create_bucket(Bucket=self.bucket)
        return self

    def stop(self) -> None:
        """Stop the server."""
        _end(self.proc)
        self.proc = None


DEPLOY_NGINX = Path(__file__).resolve().parent.parent / "deploy" / "nginx.conf"


def nginx_config(*, prefix: Path, port: int, upstreams: list[str], workers: int = 1,
                 connections: int = 4096) -> str:
    """``deploy/nginx.conf`` itself, made to run here: its nodes replaced by ``upstreams``,
    listening on ``port`` of the loopback, every file it writes inside ``prefix``."""
    text = DEPLOY_NGINX.read_text()
    node_line = re.compile(r"^(\s*)server \S+:\d+ (.*);$", re.M)
    indent, options = node_line.search(text).groups()  # type: ignore[union-attr]
    text = node_line.sub("", text)
    nodes = "".join(f"{indent}server {u} {options};\n" for u in upstreams)
    text = text.replace("upstream cunxiang {\n", "upstream cunxiang {\n" + nodes, 1)
    temp = "".join(f"    {kind}_temp_path {prefix}/tmp/{kind};\n"
                   for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    replacements = [
        (r"^user .*;$", "user root root;" if _AS_ROOT else ""),
        (r"^worker_processes .*;$", f"worker_processes {workers};"),
        (r"worker_connections \d+;", f"worker_connections {connections};"),
        (r"^pid .*;$", f"pid {prefix}/nginx.pid;"),
        (r"^error_log \S+", f"error_log {prefix}/error.log"),
        (r"proxy_cache_path \S+", f"proxy_cache_path {prefix}/cache"),
        (r"listen 80 ", f"listen 127.0.0.1:{port} "),
        (r"^http {$", "http {\n" + temp),
    ]
    for pattern, value in replacements:
        text, count = re.subn(pattern, value, text, count=1, flags=re.M)
        assert count == 1, f"deploy/nginx.conf no longer has {pattern!r}"
    return text


class Nginx(_Server):
    """nginx in front of ``upstreams`` (``host:port``), in the foreground, own prefix."""

    def __init__(self, upstreams: list[str], *, workers: int = 1,
                 connections: int = 4096) -> None:
        self.port = free_port()
        self.upstreams, self.workers, self.connections = upstreams, workers, connections
        self.prefix: Path | None = None
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The balancer's URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Nginx:
        """Write the config and start nginx (``daemon off``)."""
        binary = nginx_bin()
        assert binary is not None, "nginx is not installed"
        self.prefix = Path(tempfile.mkdtemp(prefix="cx-nginx-"))
        (self.prefix / "tmp").mkdir()
        conf = self.prefix / "nginx.conf"
        conf.write_text(nginx_config(prefix=self.prefix, port=self.port, upstreams=self.upstreams,
                                     workers=self.workers, connections=self.connections))
        self.proc = subprocess.Popen(
            [binary, "-p", str(self.prefix), "-c", str(conf), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_for_port(self.port, self.proc, "nginx")
        except RuntimeError as exc:
            errors = self.proc.stderr.read().decode() if self.proc.stderr else ""
            self.stop()
            raise RuntimeError(f"{exc}: {errors.strip()}") from None
        return self

    def error_log(self) -> str:
        """What nginx logged (warnings and errors)."""
        path = self.prefix / "error.log" if self.prefix else None
        return path.read_text() if path is not None and path.exists() else ""

    def stop(self) -> None:
        """Stop nginx (fast shutdown) and remove its prefix."""
        _end(self.proc)
        self.proc = None
        if self.prefix is not None:
            shutil.rmtree(self.prefix, ignore_errors=True)
            self.prefix = None
