"""``tags/list`` pages joined by ``Link: <...>; rel="next"`` (Docker Hub, GitLab and distribution
v3 page at 100): a small registry on 127.0.0.1 that pages like them, since the real registry of
these tests (distribution 2.8) answers every tag in one page."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import pytest

from gitops_release.images import parse_image
from gitops_release.registry.check import ImageCheck, ImageMissing

TAGS = [f"1.{minor}.{patch}" for minor in range(16) for patch in range(10)] + ["latest"]


@pytest.fixture
def paging_registry() -> Iterator[tuple[str, list[str]]]:
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_HEAD(self) -> None:
            self.send_response(404)
            self.end_headers()

        def do_GET(self) -> None:
            url = urlparse(self.path)
            asked.append(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            n = min(int(query.get("n", 100)), 100)
            ordered = sorted(TAGS)
            start = ordered.index(query["last"]) + 1 if "last" in query else 0
            page = ordered[start : start + n]
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            if start + n < len(ordered):
                nxt = f"{url.path}?{urlencode({'n': n, 'last': page[-1]})}"
                self.send_header("Link", f'<{nxt}>; rel="next"')
            self.end_headers()
            self.wfile.write(json.dumps({"name": "team/app", "tags": page}).encode())

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{httpd.server_address[1]}", asked
    httpd.shutdown()
    httpd.server_close()


def test_every_page_is_followed_to_name_the_nearest_tags(
    paging_registry: tuple[str, list[str]],
) -> None:
    host, asked = paging_registry
    with pytest.raises(ImageMissing) as err:
        ImageCheck().verify(parse_image(f"{host}/team/app:1.15.12"))
    assert err.value.nearest[:3] == ["1.15.9", "1.15.8", "1.15.7"]  # on the last of 2 pages
    assert [p.split("?")[0] for p in asked if "tags" in p] == ["/v2/team/app/tags/list"] * 2
    client = ImageCheck().client(parse_image(f"{host}/team/app"))
    client.page_size = 30
    assert client.tags() == sorted(TAGS)
