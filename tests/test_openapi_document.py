"""The OpenAPI document is generated from the routes: valid OpenAPI, every API route in it, none forgotten."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from openapi_spec_validator import validate

from playalter.runner.server.http import openapi
from playalter.runner.server.http.auth import PUBLIC, PublicPaths
from playalter.runner.server.route_docs import is_page
from playalter.runner.server.state import SETTINGS

from server_app_helpers import make_settings, running_app


def api_routes(app: web.Application) -> list[tuple[str, str]]:
    """(method, path) of every route of ``app`` but HEAD, static files and pages for people."""
    return [(route.method.lower(), route.resource.canonical) for route in app.router.routes()
            if route.method != "HEAD" and not isinstance(route.resource, web.StaticResource)
            and not is_page(route.handler)]


@pytest.mark.parametrize("metrics_public", [False, True])
def test_the_document_is_valid_openapi_and_holds_every_api_route(tmp_path, metrics_public):
    async def scenario():
        settings = make_settings(tmp_path, SERVER__METRICS_PUBLIC=str(metrics_public).lower())
        async with running_app(settings) as (client, app, key):
            spec = await (await client.get("/openapi.json")).json()
            validate(spec)
            routes = api_routes(app)
            assert len(routes) >= 20
            for method, path in routes:
                assert method in spec["paths"].get(path, {}), f"{method.upper()} {path} is not in the document"
            assert sum(len(operations) for operations in spec["paths"].values()) == len(routes)
            assert ("security" in spec["paths"]["/metrics"]["get"]) is metrics_public  # public: no credentials
            assert spec["paths"]["/health"]["get"]["security"] == []

    asyncio.run(scenario())


def test_a_route_without_documentation_is_refused(tmp_path):
    async def undocumented(request: web.Request) -> web.Response:
        return web.json_response({})

    app = web.Application()
    app[SETTINGS] = make_settings(tmp_path)
    app[PUBLIC] = PublicPaths()
    app.add_routes(openapi.routes)
    assert openapi.build_spec(app)["paths"] == {}  # the document's own routes are pages
    app.router.add_get("/api/new", undocumented)
    with pytest.raises(LookupError, match="GET /api/new"):
        openapi.build_spec(app)
