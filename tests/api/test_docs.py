"""`/docs` works offline: Swagger UI comes from the package, never from another host."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from urllib.parse import urlsplit

from fastapi.testclient import TestClient

import switchboard.api

VENDORED = Path(switchboard.api.__file__).parent / "static" / "vendor" / "swagger-ui"
CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


def test_docs_name_no_other_host_and_their_files_are_served(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    absolute = re.findall(r"""(?:https?:)?//[^\s"'<>)]+""", html)
    assert [url for url in absolute if urlsplit(url).hostname not in (None, "testserver")] == []
    linked = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
    assets = [url for url in linked if url.endswith((".js", ".css", ".png"))]
    assert len(assets) == 3, linked
    sums = dict(
        reversed(line.split("  ")) for line in (VENDORED / "SHA256SUMS").read_text().splitlines()
    )
    for url in assets:
        answer = client.get(url)
        assert answer.status_code == 200, url
        assert answer.headers["content-type"].startswith(CONTENT_TYPES[Path(url).suffix])
        assert hashlib.sha256(answer.content).hexdigest() == sums[Path(url).name]
    assert "url: '/openapi.json'" in html and client.get("/openapi.json").status_code == 200


def test_only_the_vendored_files_are_served(client: TestClient) -> None:
    for name in ("LICENSE", "SHA256SUMS", "..%2F..%2Fdocs.py", "nothing.js"):
        assert client.get(f"/docs/assets/{name}").status_code == 404, name
    assert client.get("/redoc").status_code == 404  # ReDoc would need another host


def test_the_vendored_files_match_their_checksums() -> None:
    version = (VENDORED / "VERSION").read_text().strip()
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    lines = (VENDORED / "SHA256SUMS").read_text().splitlines()
    assert {"swagger-ui-bundle.js", "swagger-ui.css", "LICENSE"} <= {
        line.split("  ")[1] for line in lines
    }
    for line in lines:
        digest, name = line.split("  ")
        assert hashlib.sha256((VENDORED / name).read_bytes()).hexdigest() == digest, name
