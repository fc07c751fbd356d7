"""The TAXII 2.1 server of a node (OASIS TAXII 2.1), mounted by api/app.py at /taxii2 on the officials'
API port: its own sub-application, so that its errors are TAXII error messages in its media type.
Views in `views`, authentication in `auth`, the wire format in `media`; the STIX 2.1 mapping and the use
cases are services (stix, taxii, taxii_listing, taxii_cursor)."""

from __future__ import annotations

from fastapi import FastAPI

from gsomia.api.taxii.media import install_taxii_errors
from gsomia.api.taxii.views import router
from gsomia.services.context import Node
from gsomia.services.feed import LiveFeed
from gsomia.services.throttle import FailedAuthentications

BASE = "/taxii2"


def create_taxii_app(node: Node, failures: FailedAuthentications, track_feed: LiveFeed | None = None) -> FastAPI:
    """The TAXII server over `node`; `failures` is the API's own throttle of failed authentications; with
    `track_feed` (the node's running feed) a missile-warning collection too."""
    app = FastAPI(title="gsomia TAXII 2.1", openapi_url=None, docs_url=None, redoc_url=None)
    app.state.node = node
    app.state.failed_authentications = failures
    app.state.feed = track_feed
    install_taxii_errors(app)
    app.include_router(router)
    return app
