"""What each HTTP route says about itself in the OpenAPI document, declared beside its handler.

``@documented(...)`` records a ``RouteDoc`` on the handler, as ``@rate_cost``
records its cost; ``openapi.py`` walks the application's routes and builds
``/openapi.json`` from these records, so an endpoint is described where it is
written. ``@page`` marks a route for people (a web page, the docs browser),
which the API document leaves out. A route with neither is an error there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

DOC_ATTRIBUTE = "_playalter_route_doc"
PAGE_ATTRIBUTE = "_playalter_page"

SettingsText = Callable[[Any], str]  # settings -> text, for what depends on the settings (limits)
SettingsSchema = Callable[[Any], dict[str, Any]]


@dataclass(frozen=True)
class Upload:
    """A ``multipart/form-data`` body: file parts (name -> description) and a JSON-text ``options`` part."""

    files: dict[str, str]
    options: dict[str, Any]


@dataclass(frozen=True)
class RouteDoc:
    """One operation of the API document.

    ``answer`` describes the success answer (``status``): a JSON body of ``answer_schema``, or, without a
    schema, a body of another media type that ``answer`` names. ``errors``: the error statuses it may answer.
    ``scope``: the API-key scope it needs (whether it needs a key at all comes from the app's public paths).
    ``body``: the JSON Schema of a JSON request body (the one the handler validates with); ``upload``: a
    multipart one instead. ``path_schemas``: schemas of path parameters that are more than a string.
    ``respond_async``: sent with ``Prefer: respond-async``, it answers 202 with the job and its ``Location``.
    """

    summary: str
    description: str | SettingsText
    tag: str
    answer: str
    answer_schema: dict[str, Any] | None = None
    status: int = 200
    errors: tuple[int, ...] = ()
    scope: str | None = None
    body: dict[str, Any] | SettingsSchema | None = None
    upload: Upload | None = None
    path_schemas: dict[str, dict[str, Any]] = field(default_factory=dict)
    respond_async: bool = False


def documented(summary: str, description: str | SettingsText, **details: Any):
    """Handler decorator: record the handler's ``RouteDoc`` (see its fields) for the API document."""
    route_doc = RouteDoc(summary, description, **details)

    def decorate(handler):
        setattr(handler, DOC_ATTRIBUTE, route_doc)
        return handler

    return decorate


def page(handler):
    """Handler decorator: a route for people, not part of the API document."""
    setattr(handler, PAGE_ATTRIBUTE, True)
    return handler


def route_doc(handler) -> RouteDoc | None:
    return getattr(handler, DOC_ATTRIBUTE, None)


def is_page(handler) -> bool:
    return getattr(handler, PAGE_ATTRIBUTE, False)
