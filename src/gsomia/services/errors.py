"""Errors raised by the services.

    ServiceError               base
    ├── InvalidInput           bad input; nothing was written (exit code 2 / HTTP 400)
    │   ├── NotFound           an unknown official or item (exit code 2 / HTTP 404)
    │   └── Conflict           the record's state forbids it, e.g. destroying a destroyed item
    ├── AuthenticationFailed   no valid token: one error for every reason, so it leaks nothing
    ├── PermissionDenied       the actor may not do this; the refusal is in the audit log
    ├── StoreUnavailable       the database cannot be reached or is not at this release's schema
    └── KeysUnavailable        the node's keys cannot be loaded (no passphrase, a wrong one, bad files)

Domain parsing errors (`gsomia.domain.errors.DomainError`) reach callers as InvalidInput.
"""


class ServiceError(Exception):
    pass


class InvalidInput(ServiceError):
    pass


class NotFound(InvalidInput):
    pass


class Conflict(InvalidInput):
    pass


class AuthenticationFailed(ServiceError):
    def __init__(self) -> None:
        super().__init__("authentication failed: unknown, revoked or inactive token")


class PermissionDenied(ServiceError):
    """Refused. When the policy refused, `rules` and `reasons` are its decision's (for the API and CLI to show)."""

    def __init__(self, message: str, *, rules: tuple[str, ...] = (), reasons: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.rules = rules
        self.reasons = reasons or (message,)


class StoreUnavailable(ServiceError):
    pass



class KeysUnavailable(ServiceError):
    """The node's keys cannot be loaded: no passphrase, a wrong one, missing or badly protected files."""
