"""One mapping from every error the services and the domain raise to an HTTP status and a JSON body.

    {"error": {"code": ..., "message": ..., "rules": [...], "reasons": [...]}}

    DomainError, InvalidInput     400 invalid_input
    AuthenticationFailed          401 unauthenticated (with WWW-Authenticate)
    PermissionDenied              403 refused, carrying the decision's rules and reasons
    NotFound                      404 not_found
    Conflict                      409 conflict
    request validation (pydantic) 422 validation_error
    TooManyFailures               429 too_many_attempts (with Retry-After)
    StoreUnavailable              503 store_unavailable (KeysUnavailable: 503 keys_unavailable)
    ContentUnreadable             500 content_unreadable (stored content altered: an incident)
    anything else                 500 internal, with no detail (the trace goes to the log only)

Bad input never becomes a 5xx, and no response carries a stack trace.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from gsomia.api.schemas import ErrorResponse
from gsomia.domain.errors import DomainError
from gsomia.services.errors import (
    AuthenticationFailed,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    ServiceError,
    StoreUnavailable,
)
from gsomia.services.handling import ContentUnreadable
from gsomia.services.runtime import KeysUnavailable
from gsomia.services.throttle import TooManyFailures

log = logging.getLogger("gsomia.api")

REALM = 'Bearer realm="gsomia"'
# Most specific first: NotFound and Conflict are InvalidInput too.
STATUS: tuple[tuple[type[Exception], int, str], ...] = (
    (NotFound, 404, "not_found"),
    (Conflict, 409, "conflict"),
    (InvalidInput, 400, "invalid_input"),
    (DomainError, 400, "invalid_input"),
    (AuthenticationFailed, 401, "unauthenticated"),
    (PermissionDenied, 403, "refused"),
    (TooManyFailures, 429, "too_many_attempts"),
    (StoreUnavailable, 503, "store_unavailable"),
    (KeysUnavailable, 503, "keys_unavailable"),
    (ContentUnreadable, 500, "content_unreadable"),  # the store's fault, never the caller's
)
HTTP_CODES = {400: "bad_request", 401: "unauthenticated", 403: "refused", 404: "not_found",
              405: "method_not_allowed", 409: "conflict", 415: "unsupported_media_type", 422: "validation_error"}


class MissingCredentials(AuthenticationFailed):
    """No bearer token at all: a 401 without an audit entry (nobody presented anything)."""


def error_response(status: int, code: str, message: str, *, rules: Sequence[str] = (),
                   reasons: Sequence[str] = (), headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "rules": list(rules), "reasons": list(reasons)}}
    return JSONResponse(body, status_code=status, headers=headers)


def unauthenticated(message: str, *, invalid_token: bool) -> JSONResponse:
    challenge = REALM + (', error="invalid_token"' if invalid_token else "")
    return error_response(401, "unauthenticated", message, headers={"WWW-Authenticate": challenge})


def status_and_code(error: Exception) -> tuple[int, str]:
    """The HTTP status and error code of a service error (an unknown kind is the caller's problem: 400)."""
    return next(((s, c) for kind, s, c in STATUS if isinstance(error, kind)), (400, "invalid_input"))


def decision_parts(error: Exception) -> tuple[Sequence[str], Sequence[str]]:
    """The refused decision's rules and reasons (PermissionDenied carries them when the policy refused)."""
    rules = tuple(getattr(error, "rules", ()) or ())
    reasons = tuple(getattr(error, "reasons", ()) or ()) or (str(error),)
    return rules, reasons


def _service_error(request: Request, error: Exception) -> JSONResponse:
    # An unknown ServiceError subclass is still the caller's problem: 400, never a 5xx.
    status, code = status_and_code(error)
    if status == 401:
        missing = isinstance(error, MissingCredentials)
        return unauthenticated("send Authorization: Bearer <token>" if missing else str(error),
                               invalid_token=not missing)
    if isinstance(error, TooManyFailures):
        return error_response(429, code, str(error), headers={"Retry-After": str(error.retry_after_s)})
    if status == 403:
        rules, reasons = decision_parts(error)
        return error_response(403, code, str(error), rules=rules, reasons=reasons)
    return error_response(status, code, str(error))


def _validation_error(request: Request, error: Exception) -> JSONResponse:
    if not isinstance(error, RequestValidationError):  # registered for this type only
        return _unexpected(request, error)
    reasons = []
    for problem in error.errors():
        where = ".".join(str(part) for part in problem.get("loc", ()))
        reasons.append(f"{where}: {problem.get('msg', 'invalid')}")
    return error_response(422, "validation_error", "the request does not match the API schema", reasons=reasons)


def _http_error(request: Request, error: Exception) -> JSONResponse:
    if not isinstance(error, HTTPException):  # registered for this type only
        return _unexpected(request, error)
    code = HTTP_CODES.get(error.status_code, "http_error")
    headers = dict(error.headers or {})
    if error.status_code == 405:
        # Starlette names only the first route that matched the path; a path may have one route per method.
        headers["Allow"] = ", ".join(allowed_methods(request))
    return error_response(error.status_code, code, str(error.detail), headers=headers)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the API answers on this request's path (`app.state.route_methods`, set
    by create_app from its routers)."""
    routes: list[tuple[re.Pattern[str], set[str]]] = getattr(request.app.state, "route_methods", [])
    return sorted({m for pattern, methods in routes if pattern.match(request.url.path) for m in methods})


def _unexpected(request: Request, error: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    return error_response(500, "internal", "internal error: the node's log has the details")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(DomainError, _service_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)


# For route declarations: the error shapes each status can have, so the OpenAPI spec documents them.
def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorResponse} for status in (401, 422, 429, *statuses)}
