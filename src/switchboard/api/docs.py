"""`GET /docs`: Swagger UI over the OpenAPI document, served from the package itself.

FastAPI's own page loads Swagger UI from another host: offline it shows nothing, and it tells
that host who reads the docs. These files are npm's `swagger-ui-dist` (the version in
`static/vendor/swagger-ui/VERSION`, their sha256 in `SHA256SUMS`, refreshed by `make vendor`).
ReDoc is not served: it would need its script and fonts from elsewhere too.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

SWAGGER_UI_DIR = Path(__file__).parent / "static" / "vendor" / "swagger-ui"
ASSETS_PATH = "/docs/assets"
_MEDIA_TYPES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
}
"""The only files served, each with its content type (not guessed from the system's tables)."""

router = APIRouter(include_in_schema=False)


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    assets = f"{root}{ASSETS_PATH}"
    return get_swagger_ui_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} API",
        swagger_js_url=f"{assets}/swagger-ui-bundle.js",
        swagger_css_url=f"{assets}/swagger-ui.css",
        swagger_favicon_url=f"{assets}/favicon-32x32.png",
        # No validator badge: it would send the document's address to swagger.io.
        swagger_ui_parameters={"validatorUrl": None},
    )


@router.get(ASSETS_PATH + "/{name}")
def swagger_ui_asset(name: str) -> FileResponse:
    media_type = _MEDIA_TYPES.get(name)
    if media_type is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Not Found")
    return FileResponse(SWAGGER_UI_DIR / name, media_type=media_type)
