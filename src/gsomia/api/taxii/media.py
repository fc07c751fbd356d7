"""TAXII 2.1 on the wire: its media type, its responses, and its error message (TAXII 2.1 §1.6.8, §3.6).

Every TAXII response is `application/taxii+json;version=2.1`; every error is a TAXII error message
`{"title", "description", "http_status", "details"}`, a policy refusal carrying the decision's rules and
reasons in `details`. The mapping from service errors to statuses is the API's own (api/errors.py).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from gsomia.api.errors import decision_parts, status_and_code
from gsomia.domain.errors import DomainError
from gsomia.services.errors import ServiceError
from gsomia.services.throttle import TooManyFailures

log = logging.getLogger("gsomia.taxii")

TAXII_MEDIA_TYPE = "application/taxii+json;version=2.1"
CHALLENGE = 'Basic realm="gsomia TAXII", charset="UTF-8"'
TITLES = {400: "Bad request", 401: "Unauthenticated", 403: "Refused", 404: "Not found", 405: "Method not allowed",
          406: "Not acceptable", 409: "Conflict", 413: "Too large", 415: "Unsupported media type",
          422: "Invalid request", 429: "Too many attempts", 500: "Internal error", 503: "Unavailable"}


class TaxiiResponse(Response):
    media_type = TAXII_MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class NotAcceptable(ServiceError):
    """The client accepts no media type this endpoint answers in (406)."""


class UnsupportedMediaType(ServiceError):
    """A POST body not sent as application/taxii+json;version=2.1 (415)."""


def taxii_error(status: int, description: str, *, details: dict[str, Any] | None = None,
                headers: dict[str, str] | None = None) -> TaxiiResponse:
    body: dict[str, Any] = {"title": TITLES.get(status, "Error"), "description": description,
                            "http_status": str(status)}
    if details:
        body["details"] = details
    return TaxiiResponse(body, status_code=status, headers=headers)


def accepts_taxii(accept: str | None) -> bool:
    """Does an Accept header admit application/taxii+json;version=2.1 (no header: yes)?"""
    if not accept or not accept.strip():
        return True
    for offered in accept.split(","):
        kind, *params = (part.strip().lower() for part in offered.split(";"))
        version = next((p.split("=", 1)[1].strip() for p in params if p.startswith("version=")), None)
        if kind in ("*/*", "application/*") or (kind == "application/taxii+json" and version in (None, "2.1")):
            return True
    return False


def _service_error(request: Request, error: Exception) -> Response:
    if isinstance(error, NotAcceptable):
        return taxii_error(406, str(error))
    if isinstance(error, UnsupportedMediaType):
        return taxii_error(415, str(error))
    status, _ = status_and_code(error)
    if status == 401:
        return taxii_error(401, str(error) or "authentication failed", headers={"WWW-Authenticate": CHALLENGE})
    if isinstance(error, TooManyFailures):
        return taxii_error(429, str(error), headers={"Retry-After": str(error.retry_after_s)})
    if status == 403:
        rules, reasons = decision_parts(error)
        return taxii_error(403, str(error), details={"rules": list(rules), "reasons": list(reasons)})
    if status >= 500:
        log.warning("TAXII %s %s: %s", request.method, request.url.path, type(error).__name__)
    return taxii_error(status, str(error))


def _validation_error(request: Request, error: Exception) -> Response:
    problems = [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}"
                for e in (error.errors() if isinstance(error, RequestValidationError) else ())]
    return taxii_error(400, "the request's parameters are not valid", details={"reasons": problems})


def _http_error(request: Request, error: Exception) -> Response:
    status = error.status_code if isinstance(error, HTTPException) else 500
    detail = str(error.detail) if isinstance(error, HTTPException) else "internal error"
    return taxii_error(status, detail, headers=dict(error.headers or {}) if isinstance(error, HTTPException) else None)


def _unexpected(request: Request, error: Exception) -> Response:
    log.exception("unhandled error on TAXII %s %s", request.method, request.url.path, exc_info=error)
    return taxii_error(500, "internal error: the node's log has the details")


def install_taxii_errors(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(DomainError, _service_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
