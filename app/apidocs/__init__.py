"""The interactive API documentation (/docs, /redoc) served with no request leaving the server.

FastAPI's own pages load Swagger UI and ReDoc from a CDN (and ReDoc its fonts from Google),
which is unreachable on a closed network and unreliable in China. The same files come here
from the ``fastapi-offline`` package (Swagger UI 5.32.6 and ReDoc 2.5.3, unchanged builds of
the npm releases); their licences are in ``licenses/`` and served under ``/docs/licenses/``.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["install_api_docs", "ASSETS_DIR", "LICENSES_DIR", "ASSETS_URL"]

ASSETS_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"
LICENSES_DIR = Path(__file__).resolve().parent / "licenses"
ASSETS_URL = "/docs/assets"
LICENSES_URL = "/docs/licenses"
# Swagger UI would ask validator.swagger.io to check the schema and show a badge: not offline.
SWAGGER_PARAMETERS = {"validatorUrl": None, "persistAuthorization": True}
# The browser itself refuses anything from elsewhere: ReDoc's sidebar always shows a logo from
# its vendor's CDN (an <img> no option turns off); under this policy it is never asked for.
CONTENT_POLICY = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                  "script-src 'self' 'unsafe-inline'; worker-src 'self' blob:; "
                  "font-src 'self' data:; connect-src 'self'")


def _offline(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = CONTENT_POLICY
    return page


def install_api_docs(app: FastAPI, *, docs_url: str = "/docs", redoc_url: str = "/redoc") -> None:
    """Serve Swagger UI at ``docs_url`` and ReDoc at ``redoc_url`` from the package's files.

    The app must be created with ``docs_url=None, redoc_url=None`` so FastAPI's CDN pages
    are not registered first.
    """
    openapi_url = app.openapi_url or "/openapi.json"
    redirect_url = f"{docs_url}/oauth2-redirect"
    favicon = f"{ASSETS_URL}/favicon.png"

    @app.get(docs_url, include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return _offline(get_swagger_ui_html(
            openapi_url=openapi_url, title=f"{app.title} — API",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css", swagger_favicon_url=favicon,
            oauth2_redirect_url=redirect_url, swagger_ui_parameters=SWAGGER_PARAMETERS,
        ))

    @app.get(redirect_url, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(redoc_url, include_in_schema=False)
    def redoc() -> HTMLResponse:
        return _offline(get_redoc_html(
            openapi_url=openapi_url, title=f"{app.title} — ReDoc",
            redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js", redoc_favicon_url=favicon,
            with_google_fonts=False))

    app.mount(ASSETS_URL, StaticFiles(directory=str(ASSETS_DIR)), name="docs-assets")
    app.mount(LICENSES_URL, StaticFiles(directory=str(LICENSES_DIR)), name="docs-licenses")
