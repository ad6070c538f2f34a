"""Serve a generated site with nginx on loopback: write its config, start and stop it.

All of nginx's files (config, pid, error log, temp paths) live under one
prefix directory, so it runs without touching /etc/nginx or /var, as root or not.
"""

from __future__ import annotations

import grp
import os
import pwd
import resource
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

NGINX = "/usr/sbin/nginx"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(
    prefix: Path, root: Path, redirects: Path, port: int, vhosts: bool = False, access_log: Path | None = None
) -> Path:
    """Write ``prefix/nginx.conf`` serving ``root`` on 127.0.0.1:``port``; return its path.

    With ``vhosts`` every host name has its own document root, ``root/<host>``
    (the Host header without its port), as name-based virtual hosts would.
    """
    prefix = prefix.resolve()
    prefix.mkdir(parents=True, exist_ok=True)
    user = ""
    if os.geteuid() == 0:  # workers would run as nobody, who may not be able to read the site
        user = f"user {pwd.getpwuid(0).pw_name} {grp.getgrgid(0).gr_name};\n"
    temps = "".join(
        f"    {name}_temp_path {prefix / 'tmp' / name};\n"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    nofile = min(resource.getrlimit(resource.RLIMIT_NOFILE)[1], 65536)
    conf = prefix / "nginx.conf"
    conf.write_text(
        f"""{user}worker_processes 2;
daemon off;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} warn;
worker_rlimit_nofile {nofile};
events {{ worker_connections {nofile // 2}; }}  # linkinator keeps thousands of connections open
http {{
    {f"log_format linkrot '$request_method $uri $status'; access_log {access_log} linkrot;" if access_log else "access_log off;"}
    log_not_found off;
    add_header LinkChecker unthrottled always;  # lets linkchecker exceed 10 requests/s (see README)
{temps}    types {{ text/html html; }}
    default_type application/octet-stream;
    sendfile on;
    keepalive_requests 100000;
    server {{
        listen 127.0.0.1:{port};
        root {root.resolve()}{"/$host" if vhosts else ""};
        index index.html;
        include {redirects.resolve()};
    }}
}}
""",
        encoding="utf-8",
    )
    (prefix / "tmp").mkdir(exist_ok=True)
    return conf


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nginx did not listen on port {port} within {timeout} s")


@contextmanager
def serve(
    site: Path, prefix: Path, port: int = 0, vhosts: bool = False, access_log: Path | None = None
) -> Iterator[int]:
    """Run nginx for ``site`` (a gensite or genlinks output directory) and yield its port; ``access_log``:
    log each request as ``METHOD URI STATUS`` there (bench/scale.py counts fetches per URL)."""
    port = port or free_port()
    prefix = prefix.resolve()
    conf = write_config(prefix, site / "www", site / "redirects.conf", port, vhosts, access_log)
    process = subprocess.Popen([NGINX, "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(conf)])
    try:
        # a million-page site's redirect rules take nginx a while (measured: 25 s for 1.9 MB of them)
        rules = site / "redirects.conf"
        size = rules.stat().st_size if rules.exists() else 0
        wait_for_port(port, process, timeout=10.0 + 60.0 * size / 1_000_000)
        yield port
    finally:
        process.terminate()  # SIGTERM: fast shutdown of the master and its workers
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
