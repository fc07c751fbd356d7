"""The officials' HTTP API of one node: `create_app(node)` builds it; there is no global app object.

The node (store, catalogue, keys, partners) reaches the views through `app.state.node` and the
`node_of` dependency, so two apps over two nodes can live in one process (the federation tests do
that). Every router is mounted here, and the web console under /console (gsomia/console, its own
sub-application); the composition root (gsomia/node.py) hands over the node's running feed, if it serves one.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from gsomia.api.auth import vouch_for
from gsomia.api.docs import install_docs
from gsomia.api.errors import install_error_handlers
from gsomia.api.observe import RequestLog
from gsomia.api.routes import agreements, audit, exchange, feed, health, items, metrics, officials, standards
from gsomia.api.routes.health import API_VERSION
from gsomia.api.taxii import BASE as TAXII_BASE
from gsomia.api.taxii import create_taxii_app
from gsomia.api.vocabulary import published_schema
from gsomia.console import BASE as CONSOLE_BASE
from gsomia.console import create_console
from gsomia.edge.limits import EdgeLimits, api_limits
from gsomia.services.context import Node
from gsomia.services.feed import LiveFeed
from gsomia.services.readiness import PartnerProbe
from gsomia.services.throttle import FailedAuthentications

TITLE = "gsomia officials' API"
DESCRIPTION = """\
The API through which a defence ministry's cleared officials use their gsomia node: the exchange of
classified military information between KOR, JPN and USA under the GSOMIAs and TISA.

Every route but `/v1/health` needs `Authorization: Bearer <personal API token>`. Every decision of the
policy (allowed or refused) on an item is in the node's hash-chained audit trail. Errors are
`{"error": {"code", "message", "rules", "reasons"}}`; a refusal by the policy is a 403 whose `rules`
and `reasons` say which rule refused and why.
"""

# Starlette tries the routes in order, about 4 µs each here: the exchange routes (releases, the heaviest
# traffic) go first rather than behind thirty others. No two paths overlap, so order changes nothing else.
ROUTERS = (exchange.router, feed.router, health.router, agreements.router, officials.router, items.router,
           audit.router, metrics.router, standards.router)


def create_app(node: Node, *, track_feed: LiveFeed | None = None) -> FastAPI:
    """The API over `node`; the caller opens and closes the node. Without `track_feed` the feed's routes
    answer that this node serves no feed."""
    app = FastAPI(title=TITLE, version=f"{API_VERSION}.0", description=DESCRIPTION, openapi_url=None,
                  docs_url=None, redoc_url=None)
    app.state.node = node
    app.state.feed = track_feed
    app.state.failed_authentications = FailedAuthentications(  # per app, or shared by its workers (settings)
        storage=node.settings.throttle_storage, key_prefix=f"gsomia-{node.settings.node_id}")
    app.state.partner_probe = PartnerProbe(node.settings.ready_probe_every_s, node.settings.ready_probe_timeout_s)
    open_docs = node.settings.api_docs_open
    app.add_middleware(EdgeLimits, limits=api_limits(open_docs=open_docs),
                       vouch=vouch_for(node, app.state.failed_authentications))
    app.add_middleware(RequestLog)  # added last: outermost, so the edge's refusals are logged with their id
    install_error_handlers(app)
    install_docs(app, open_docs=open_docs)

    def openapi() -> dict[str, Any]:  # made afresh each time: an amendment may change the vocabularies
        app.openapi_schema = None
        return published_schema(FastAPI.openapi(app), node.catalog, node.settings.party)

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to customise the schema
    for router in ROUTERS:
        app.include_router(router)
    # For the Allow header of a 405 (api/errors.py): every method each path answers.
    app.state.route_methods = [(route.path_regex, set(route.methods or ())) for router in ROUTERS
                               for route in router.routes if isinstance(route, APIRoute)]
    # The security officer's web console: pages, not API, so a sub-application outside the OpenAPI document.
    app.mount(CONSOLE_BASE, create_console(node, track_feed=track_feed, failures=app.state.failed_authentications))
    # The TAXII 2.1 server (api/taxii): its own sub-application, TAXII's media type and error messages.
    app.mount(TAXII_BASE, create_taxii_app(node, app.state.failed_authentications, track_feed))
    return app
