"""The security officer's web console: server-rendered pages under /console/ on the officials' API port.

Mounted by `gsomia.api.app.create_app` (the only module that imports it besides the composition root);
every view calls the same services as the API, and every decision it shows is the policy's own. See
`gsomia.console.app` for the security design (sessions, CSRF, CSP).
"""

from gsomia.console.app import BASE, create_console

__all__ = ["BASE", "create_console"]
