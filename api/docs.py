"""`/docs` (Swagger UI) and `/redoc` served with no internet, and the OpenAPI error bodies.

Government portals run on intranets with no route to a CDN, where FastAPI's default pages
stay blank. The Swagger UI and ReDoc bundles (and a favicon) come from the installed
`fastapi-offline` package (MIT; Swagger UI is Apache-2.0, ReDoc MIT) and are served under
`/docs-static/`. The schema documents our error body `{"error": {"code", "message"}}` for
every 4xx/5xx instead of FastAPI's `HTTPValidationError`, which this service never sends.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from api.schemas import ErrorBody

STATIC_URL = "/docs-static"
ASSETS = "fastapi_offline"  # the package whose static/ holds the bundles
REF = "#/components/schemas/"
#: FastAPI's own validation error models: this service answers ErrorBody instead.
FASTAPI_DEFAULTS = ("HTTPValidationError", "ValidationError")
INTERNAL_ERROR = "internal_error: an unexpected failure (logged; the body holds no details)"


def error(description: str, model: type[BaseModel] = ErrorBody) -> dict[str, Any]:
    """One entry of a route's `responses=`: an error status with its body model."""
    return {"description": description, "model": model}


def _static_dir() -> str:
    return str(resources.files(ASSETS).joinpath("static"))


def _error_content() -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": REF + ErrorBody.__name__}}}


def _is_error(status: str) -> bool:
    return status[:1] in {"4", "5"}


def _fix_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Every 4xx/5xx of every operation gets the error body (unless a route named a more
    specific one), every operation documents 500, and FastAPI's models are dropped."""
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            responses.setdefault("500", {"description": INTERNAL_ERROR})
            for status, response in responses.items():
                if not _is_error(status):
                    continue
                content = response.get("content", {}).get("application/json", {})
                if "HTTPValidationError" in str(content) or not content.get("schema"):
                    response["content"] = _error_content()
                if status == "422" and response.get("description") == "Validation Error":
                    response["description"] = "invalid input (the code names the problem)"
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in FASTAPI_DEFAULTS:
        components.pop(name, None)
    error_schema = ErrorBody.model_json_schema(ref_template=REF + "{model}")
    for name, sub in error_schema.pop("$defs", {}).items():
        components.setdefault(name, sub)
    components.setdefault(ErrorBody.__name__, error_schema)
    return schema


def install(app: FastAPI) -> None:
    """Serve the docs pages and their assets locally; build the schema once, fixed up.

    The app must be created with `docs_url=None, redoc_url=None` (FastAPI's CDN pages)."""
    app.mount(STATIC_URL, StaticFiles(directory=_static_dir()), name="docs-static")
    favicon = f"{STATIC_URL}/favicon.png"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{STATIC_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{STATIC_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{favicon}",
            # the online validator badge would call validator.swagger.io
            swagger_ui_parameters={**(app.swagger_ui_parameters or {}), "validatorUrl": None})

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{STATIC_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{favicon}", with_google_fonts=False)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _fix_errors(get_openapi(
                title=app.title, version=app.version, description=app.description,
                routes=app.routes, tags=app.openapi_tags, servers=app.servers))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
