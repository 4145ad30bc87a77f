"""A small HTTP proxy on localhost that asks for basic authentication, in front of a real MLflow server:
the credentials tunelab sends are checked for real, and a request without them is refused (401)."""
from __future__ import annotations

import base64
import contextlib
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator


@contextlib.contextmanager
def basic_auth_proxy(upstream: str, user: str, password: str) -> Iterator[dict]:
    """Yields {"uri": the proxy's http://127.0.0.1:PORT, "counts": {"served": n, "refused": n}} while it runs."""
    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    counts = {"served": 0, "refused": 0}

    class Handler(BaseHTTPRequestHandler):
        def _forward(self) -> None:
            if self.headers.get("Authorization") != expected:
                counts["refused"] += 1
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="mlflow"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) or None
            headers = {key: value for key, value in self.headers.items()
                       if key.lower() not in ("host", "authorization", "content-length", "connection")}
            request = urllib.request.Request(upstream + self.path, data=body, headers=headers, method=self.command)
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    status, content, kind = response.status, response.read(), response.headers.get("Content-Type")
            except urllib.error.HTTPError as error:
                status, content, kind = error.code, error.read(), error.headers.get("Content-Type")
            counts["served"] += 1
            self.send_response(status)
            if kind:
                self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"uri": f"http://127.0.0.1:{server.server_address[1]}", "counts": counts}
    finally:
        server.shutdown()
        server.server_close()
