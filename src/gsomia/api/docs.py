"""The API's own documents: `/openapi.json` and the Swagger UI at `/docs`, behind a token like every route
unless the node's settings open them (`api_docs_open`); the UI's script and styles are served from the
`swagger-ui-bundle` package installed with gsomia, never from a CDN (an air-gapped network has none).

A browser cannot add a bearer token to a page it navigates to: on a node whose documents are closed,
fetch the spec with a token (`curl -H "Authorization: Bearer …" …/openapi.json`).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]  # ships no type hints

from gsomia.api.auth import current_actor

ASSETS = "/docs/assets"


def install_docs(app: FastAPI, *, open_docs: bool) -> None:
    router = APIRouter(include_in_schema=False, dependencies=[] if open_docs else [Depends(current_actor)])

    @router.get("/openapi.json")
    async def openapi(request: Request) -> JSONResponse:
        return JSONResponse(request.app.openapi())

    @router.get("/docs")
    async def docs(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{request.app.title} — docs",
                                   swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{ASSETS}/swagger-ui.css",
                                   swagger_favicon_url=f"{ASSETS}/favicon-32x32.png")

    app.include_router(router)
    app.mount(ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="swagger-ui-assets")
