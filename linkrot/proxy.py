"""A forward proxy for Chromium that checks each connection's address, after DNS (no rebinding).

Chromium resolves names itself, so a check made before it connects could be
answered differently by a rebinding DNS server a moment later.  Instead every
request of the browser goes through this proxy (``--proxy-server``, with
``<-loopback>`` so that loopback is not exempt): it resolves the name once
(``LINKROT_RESOLVE`` first), checks that address with :data:`linkrot.guard.POLICY`
and connects to that very address.  A forbidden one gets ``403`` and nothing
is sent on.  HTTPS goes through ``CONNECT`` untouched (the proxy never sees
the content); plain HTTP is forwarded one request per connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from typing import Any
from urllib.parse import urlsplit

from .guard import POLICY, ForbiddenAddressError

logger = logging.getLogger(__name__)

_LIMIT = 64 * 1024  # longest request head accepted


def reserve_port() -> int:
    """A free loopback port, chosen before Chromium's launch options are written."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class GuardProxy:
    def __init__(self, port: int, hostmap: Any = None, stats: Any = None) -> None:
        self.port = port
        self.hostmap = hostmap
        self.stats = stats
        self.server: asyncio.base_events.Server | None = None
        self.connections = 0
        self.refused = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", self.port, limit=_LIMIT)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await self.server.wait_closed()

    async def address(self, host: str, port: int) -> str:
        mapped = self.hostmap.lookup(host) if self.hostmap else None
        if mapped:
            return mapped
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        address = str(infos[0][4][0])
        POLICY.check(host, address)
        return address

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream: asyncio.StreamWriter | None = None
        self.connections += 1
        if self.stats is not None:
            self.stats.inc_value("linkrot/render/proxy_connections")
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            line, _, rest = head.partition(b"\r\n")
            method, target, version = line.decode("latin-1").split(" ", 2)
            if method == "CONNECT":
                host, _, port_text = target.rpartition(":")
                port = int(port_text)
            else:
                parts = urlsplit(target)
                host, port = parts.hostname or "", parts.port or 80
            host = host.strip("[]")
            try:
                address = await self.address(host, port)
            except ForbiddenAddressError as exc:
                self.refused += 1
                if self.stats is not None:
                    self.stats.inc_value("linkrot/render/proxy_refused")
                logger.info("linkrot: the browser asked for %s: %s", target, exc)
                writer.write(
                    f"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nX-Linkrot: {exc}\r\n\r\n".encode()
                )
                return
            up_reader, upstream = await asyncio.open_connection(address, port, limit=_LIMIT)
            for stream in (writer, upstream):  # small writes both ways: no Nagle delay
                sock = stream.get_extra_info("socket")
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if method == "CONNECT":
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                path = urlsplit(target)._replace(scheme="", netloc="").geturl() or "/"
                headers = [
                    h
                    for h in rest.split(b"\r\n")
                    if h and not h.lower().startswith((b"proxy-", b"connection:"))
                ]
                request = f"{method} {path} {version}\r\n".encode("latin-1")
                upstream.write(request + b"\r\n".join([*headers, b"Connection: close"]) + b"\r\n\r\n")
            await asyncio.gather(_pipe(reader, upstream), _pipe(up_reader, writer))
        except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            for stream in (upstream, writer):
                if stream is not None:
                    with contextlib.suppress(Exception):
                        stream.close()


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    except (OSError, asyncio.IncompleteReadError):
        pass
    finally:
        with contextlib.suppress(Exception):
            if sink.can_write_eof():
                sink.write_eof()
