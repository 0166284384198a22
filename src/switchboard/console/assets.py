"""The console's own stylesheet and script, and the vendored htmx and uPlot (npm's files, the
version in each folder's VERSION, their sha256 in SHA256SUMS, refreshed by `make vendor`):
served from the package, so that the console works offline and tells no other host it is used."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import FileResponse

STATIC_DIR = Path(__file__).parent / "static"
_JS = "text/javascript; charset=utf-8"
_CSS = "text/css; charset=utf-8"
_FILES = {
    "console.css": _CSS,
    "console.js": _JS,
    "vendor/htmx/htmx.min.js": _JS,
    "vendor/uplot/uPlot.iife.min.js": _JS,
    "vendor/uplot/uPlot.min.css": _CSS,
}
"""The only files served, each with its content type (not guessed from the system's tables)."""

router = APIRouter()


@router.get("/static/{name:path}")
def console_asset(name: str) -> FileResponse:
    media_type = _FILES.get(name)
    if media_type is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Not Found")
    return FileResponse(
        STATIC_DIR / name,
        media_type=media_type,
        headers={"Cache-Control": "public, max-age=3600"},
    )
