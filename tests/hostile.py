"""A hostile web server for the hardening tests: pages that try to exhaust time and memory.

Every route misbehaves in one way: ``/huge`` streams hundreds of MB (chunked),
``/bomb`` is a small gzip body inflating to 256 MB, ``/drip`` sends a byte a
second, ``/short`` promises more bytes than it sends, ``/reset`` resets the
connection, ``/links`` holds 200,000 links, ``/nested`` nests 200,000 elements,
``/bad-utf8`` is invalid UTF-8 under a UTF-8 declaration.  The link to the
target (``?target=URL``) is put where a parser that survives will find it.
"""

from __future__ import annotations

import gzip
import io
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

CHUNK = b"<p>" + b"filler " * 9000 + b"</p>\n"  # ~63 KB


def _bomb(size: int = 256 * 1024 * 1024) -> bytes:
    out = io.BytesIO()
    block = b"\0" * (1024 * 1024)
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9) as gz:
        for _ in range(size // len(block)):
            gz.write(block)
    return out.getvalue()


class Hostile(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: HostileServer

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        parts = urlsplit(self.path)
        target = parse_qs(parts.query).get("target", ["http://www.ours.test/"])[0]
        link = f'<a href="{target}">our link</a>'.encode()
        route = getattr(self, "route_" + parts.path.strip("/").replace("-", "_"), None)
        if route is None:
            if parts.path == "/robots.txt":
                return self.plain(404, b"")
            return self.plain(404, b"not here")
        try:
            route(link)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def plain(self, status: int, body: bytes, ctype: str = "text/html; charset=utf-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def route_huge(self, link: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.write(
            b"%x\r\n%s\r\n" % (len(link), link)
        )  # even the link is there: too large is too large
        for _ in range(500 * 1024 * 1024 // len(CHUNK)):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK))
        self.wfile.write(b"0\r\n\r\n")

    def route_bomb(self, link: bytes) -> None:
        body = self.server.bomb
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def route_drip(self, link: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", "1000")
        self.end_headers()
        for byte in (b"<html><body>" + link)[:60]:
            self.wfile.write(bytes([byte]))
            self.wfile.flush()
            time.sleep(1)

    def route_short(self, link: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", "100000")
        self.end_headers()
        self.wfile.write(b"<html><body>" + link)
        self.wfile.flush()
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    def route_reset(self, link: bytes) -> None:
        # SO_LINGER with a zero timeout: close() sends RST instead of FIN
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def route_links(self, link: bytes) -> None:
        body = b"<html><body>" + b"".join(b'<a href="/p%d">p%d</a>\n' % (i, i) for i in range(200_000))
        self.plain(200, body + link + b"</body></html>")

    def route_nested(self, link: bytes) -> None:
        depth = 200_000
        self.plain(
            200, b"<html><body>" + link + b"<div>" * depth + b"deep" + b"</div>" * depth + b"</body></html>"
        )

    def route_nested_link(self, link: bytes) -> None:
        depth = 200_000
        self.plain(200, b"<html><body>" + b"<div>" * depth + link + b"</div>" * depth + b"</body></html>")

    def route_bad_utf8(self, link: bytes) -> None:
        body = (
            b'<html><head><meta charset="utf-8"></head><body>\xff\xfe\xc3\x28 broken \xe2\x82 bytes ' + link
        )
        self.plain(200, body + b"\xed\xa0\x80</body></html>")


class HostileServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Hostile)
        self.port = self.server_address[1]
        self.bomb = _bomb()

    def __enter__(self) -> HostileServer:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()
