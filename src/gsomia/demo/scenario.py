"""The demo scenario as policy decisions (the federation layer runs the same steps between nodes)."""

from __future__ import annotations

from datetime import datetime, timezone

from rich.console import Console

from gsomia.data import load_catalog
from gsomia.domain.consents import Consent
from gsomia.domain.labels import Label
from gsomia.domain.officials import Official, Role
from gsomia.domain.policy import decide
from gsomia.domain.requests import Action, Decision, Request

console = Console()
MISSILE = frozenset({"dprk-missile"})


def run_policy_walkthrough() -> bool:
    catalog = load_catalog()
    c = catalog.schemes.parse
    kor = Official("KOR", c("KOR:II"), None, MISSILE, frozenset({Role.RELEASING_OFFICIAL}), id="kor-releaser")
    jpn = Official("JPN", c("JPN:GOKUHI"), None, MISSILE, frozenset({Role.RELEASING_OFFICIAL, Role.READER}),
                   id="jpn-analyst")
    now = datetime(2026, 11, 22, 3, 0, tzinfo=timezone.utc)
    before = datetime(2016, 11, 1, 3, 0, tzinfo=timezone.utc)
    report = Label("KOR", "KOR", c("KOR:II"), frozenset({"USA", "JPN", "KOR"}), MISSILE, "missile warning", now)
    held = report.received("KOR", c("JPN:GOKUHI"))
    consent_jpn = Consent(by="KOR", to="JPN", topics=MISSILE)
    consent_usa = Consent(by="KOR", to="USA", item_id="item-1")
    steps: list[tuple[str, Request, bool]] = [
        ("KOR releases a missile report to JPN under the GSOMIA",
         Request(Action.RELEASE, now, kor, report, recipient="JPN"), True),
        ("The same before 23 Nov 2016",
         Request(Action.RELEASE, before, kor, report, recipient="JPN"), False),
        ("... via USA under TISA with KOR's written consent",
         Request(Action.RELEASE, before, kor, report, recipient="JPN", via="USA", consents=(consent_jpn,)), True),
        ("JPN discloses it to a third party without consent",
         Request(Action.DISCLOSE, now, jpn, held, recipient="USA", item_id="item-1"), False),
        ("... after KOR consents in writing",
         Request(Action.DISCLOSE, now, jpn, held, recipient="USA", item_id="item-1", consents=(consent_usa,)), True),
    ]
    ok = True
    for title, request, expected in steps:
        decision: Decision = decide(request, catalog)
        mark = "[green]ALLOWED[/]" if decision.allowed else "[red]DENIED[/]"
        console.print(f"{mark} {title}  [dim]{', '.join(decision.rules)}[/]")
        for reason in decision.reasons:
            console.print(f"    {reason}", highlight=False)
        ok &= decision.allowed == expected
    return ok
