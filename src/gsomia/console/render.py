"""Pages from templates: the layout's context (who is signed in, the navigation their roles open, the
banner of the highest classification on the page, the session's messages) and the Jinja environment
(autoescaped; an undefined name is an error, never an empty string).

A request sent by the console's script for a dialog (`X-Console-Fragment: 1`) gets the page's content
alone, without the layout; without the script the same URL answers a whole page.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from gsomia.domain.labels import Label
from gsomia.domain.schemes import Tier
from gsomia.services import affordances
from gsomia.services.console_sessions import SignedIn
from gsomia.services.context import Node

BASE = "/console"
FRAGMENT_HEADER = "x-console-fragment"


def _when(at: datetime | None) -> str:
    return "—" if at is None else at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _day(on: date | None) -> str:
    return "—" if on is None else on.strftime("%d %b %Y")


ENV = Environment(loader=PackageLoader("gsomia.console", "templates"), autoescape=select_autoescape(default=True),
                  undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
ENV.filters["when"] = _when
ENV.filters["day"] = _day
ENV.globals["base"] = BASE


@dataclass(frozen=True, slots=True)
class Banner:
    text: str
    level: str   # u, c, s, ts: the colour
    note: str
    tier: int = 0  # Tier's value; 0 unclassified (the map's script raises it as tracks come)


UNCLASSIFIED = Banner("UNCLASSIFIED", "u", "no classified information on this page")
LEVELS = {Tier.CONFIDENTIAL: "c", Tier.SECRET: "s", Tier.TOP_SECRET: "ts"}


def banner(node: Node, labels: Iterable[Label]) -> Banner:
    """The banner of the highest classification among `labels`: that label's own banner when the labels
    at that tier agree on it, else the tier's."""
    shown = list(labels)
    if not shown:
        return UNCLASSIFIED
    tiers = {label: node.schemes.tier(label.classification) for label in shown}
    top = max(tiers.values())
    banners = {label.banner(node.schemes) for label, tier in tiers.items() if tier is top}
    text = banners.pop() if len(banners) == 1 else top.banner
    return Banner(text, LEVELS[top], "the highest classification on this page", int(top))


@dataclass(frozen=True, slots=True)
class NavItem:
    key: str
    title: str
    href: str


def navigation(session: SignedIn) -> list[NavItem]:
    """The sections this official's roles open; the register, consents, reports and the audit trail are
    the security officer's (`services.affordances.keeps_register`)."""
    items = [NavItem("dashboard", "Dashboard", f"{BASE}/"), NavItem("agreements", "Agreements", f"{BASE}/agreements"),
             NavItem("items", "Items", f"{BASE}/items")]
    if affordances.keeps_register(session.actor):
        items += [NavItem("consents", "Consents", f"{BASE}/consents"), NavItem("reports", "Reports", f"{BASE}/reports"),
                  NavItem("officials", "Officials", f"{BASE}/officials"), NavItem("audit", "Audit", f"{BASE}/audit")]
    items.append(NavItem("missile", "Missile warning", f"{BASE}/missile"))
    return items


def page(request: Request, session: SignedIn | None, template: str, *, title: str, section: str = "",
         labels: Iterable[Label] = (), status: int = 200, headers: dict[str, str] | None = None,
         **context: Any) -> HTMLResponse:
    node: Node = request.app.state.node
    fragment = request.headers.get(FRAGMENT_HEADER) == "1"
    values = {
        "title": title, "section": section, "session": session, "party": node.party, "node_name": node.settings.name,
        "official": session.official if session else None, "csrf": session.csrf if session else "",
        "nav": navigation(session) if session else [], "banner": banner(node, labels),
        "flash": session.flash if session and not fragment else (), "now": node.clock(),
        "layout": "fragment.html" if fragment else "base.html", **context,
    }
    return HTMLResponse(ENV.get_template(template).render(values), status_code=status, headers=headers)


def redirect(path: str) -> RedirectResponse:
    """After a form: the page to show next (POST, redirect, GET)."""
    return RedirectResponse(f"{BASE}{path}", status_code=303)
