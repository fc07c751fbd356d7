"""The officials' HTTP API (FastAPI): `create_app(node)`, and `current_actor` for other routers."""

from gsomia.api.app import create_app
from gsomia.api.auth import current_actor, node_of

__all__ = ["create_app", "current_actor", "node_of"]
