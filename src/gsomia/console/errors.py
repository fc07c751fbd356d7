"""Errors as pages: the services' errors with their HTTP status, a refusal with the policy's rules and
reasons, bad form input as a 400 naming the fields. Never a stack trace (an unexpected error is logged and
shown as a 500 that says so). With no session, the sign-in page (401), saying why the session ended.
"""

from __future__ import annotations

import logging
import secrets

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException

from gsomia.console import render
from gsomia.console.session import SIGN_IN_PATH, FormRefused, NotSignedIn, sign_in_cookie
from gsomia.domain.errors import DomainError
from gsomia.services.errors import (
    AuthenticationFailed,
    Conflict,
    InvalidInput,
    KeysUnavailable,
    NotFound,
    PermissionDenied,
    ServiceError,
    StoreUnavailable,
)
from gsomia.services.handling import ContentUnreadable
from gsomia.services.throttle import TooManyFailures

log = logging.getLogger("gsomia.console")

# The first kind an error is an instance of gives its status (NotFound and Conflict are InvalidInput too).
STATUSES: tuple[tuple[type[Exception], int, str], ...] = (
    (NotFound, 404, "Not found"), (Conflict, 409, "Not possible now"), (InvalidInput, 400, "Not accepted"),
    (DomainError, 400, "Not accepted"), (PermissionDenied, 403, "Refused"),
    (AuthenticationFailed, 401, "Not signed in"), (TooManyFailures, 429, "Too many attempts"),
    (StoreUnavailable, 503, "Unavailable"), (KeysUnavailable, 503, "Unavailable"),
    (ContentUnreadable, 500, "The stored content does not open"),
)


def sign_in_page(request: Request, *, reason: str | None, status: int, headers: dict[str, str] | None = None
                 ) -> HTMLResponse:
    """The sign-in form, with a fresh double-submit token in its cookie and its field."""
    token = secrets.token_urlsafe(24)
    response = render.page(request, None, "sign_in.html", title="Sign in", status=status, reason=reason,
                           sign_in_token=token, headers=headers)
    response.headers.append("set-cookie", sign_in_cookie(token))
    return response


def error_page(request: Request, status: int, heading: str, message: str, *, rules: tuple[str, ...] = (),
               reasons: tuple[str, ...] = (), headers: dict[str, str] | None = None) -> HTMLResponse:
    session = getattr(request.state, "session", None)
    return render.page(request, session, "error.html", title=heading, status=status, heading=heading,
                       message=message, rules=rules, reasons=reasons, headers=headers)


def _service_error(request: Request, error: Exception) -> Response:
    status, heading = next(((s, h) for kind, s, h in STATUSES if isinstance(error, kind)), (400, "Not accepted"))
    if isinstance(error, TooManyFailures):
        return sign_in_page(request, reason=str(error), status=429, headers={"Retry-After": str(error.retry_after_s)})
    if status == 401:
        return sign_in_page(request, reason=str(error), status=401)
    if status >= 500:
        log.warning("console: %s on %s %s", type(error).__name__, request.method, request.url.path)
    rules = tuple(getattr(error, "rules", ()) or ())
    reasons = tuple(getattr(error, "reasons", ()) or ())
    return error_page(request, status, heading, str(error), rules=rules,
                      reasons=reasons if reasons != (str(error),) else ())


def _not_signed_in(request: Request, error: Exception) -> Response:
    reason = error.reason if isinstance(error, NotSignedIn) else None
    return sign_in_page(request, reason=reason, status=401)


def _form_refused(request: Request, error: Exception) -> Response:
    if request.url.path.endswith(SIGN_IN_PATH):
        return sign_in_page(request, reason=str(error), status=403)
    return error_page(request, 403, "Form refused", str(error), rules=("R7.1",))


def _validation(request: Request, error: Exception) -> Response:
    problems = error.errors() if isinstance(error, RequestValidationError) else []
    reasons = tuple(f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'form'}: {e.get('msg', 'invalid')}"
                    for e in problems)
    return error_page(request, 400, "Not accepted", "the form is incomplete or has a wrong value", reasons=reasons)


def _http(request: Request, error: Exception) -> Response:
    status = error.status_code if isinstance(error, HTTPException) else 400
    detail = str(error.detail) if isinstance(error, HTTPException) else "bad request"
    return error_page(request, status, "Not found" if status == 404 else "Not accepted", detail)


def _unexpected(request: Request, error: Exception) -> Response:
    log.exception("console: unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    return HTMLResponse("<!doctype html><title>Error</title><p>Internal error: the node's log has the details.</p>",
                        status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, _service_error)  # and every kind of it (handlers go by the MRO)
    app.add_exception_handler(DomainError, _service_error)
    app.add_exception_handler(NotSignedIn, _not_signed_in)
    app.add_exception_handler(FormRefused, _form_refused)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
