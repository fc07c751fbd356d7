"""`gsomia agreements notice|amend|events|versions` and `status|list|show|decide --data`: a security officer
records a notice on a node, and the node's answers follow it from the date it takes effect; without --data the
shipped data answers as before. Bad input exits 2, a refusal 3, never a traceback."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gsomia.cli.main import app

runner = CliRunner()
GSOMIA = "jpn-kor-gsomia-2016"
TODAY = datetime.now(timezone(timedelta(hours=9))).date()
RELEASE = {"action": "release", "recipient": "JPN",
           "subject": {"party": "KOR", "clearance": "KOR:II", "need_to_know": ["dprk-missile"],
                       "roles": ["releasing_official"]},
           "item": {"originator": "KOR", "classification": "군사II급비밀", "releasable_to": ["USA", "JPN", "KOR"],
                    "topics": ["dprk-missile"], "purpose": "missile warning"}}


def run(*args: str, code: int = 0, token: str = "", stdin: str | None = None) -> str:
    result = runner.invoke(app, list(args), env={"GSOMIA_TOKEN": token, "COLUMNS": "200"}, input=stdin)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == code, result.output
    return result.output


@pytest.fixture
def node(tmp_path: Path) -> Path:
    data = tmp_path / "kor"
    run("init", "--party", "KOR", "--name", "MND Seoul", "--data", str(data))
    return data


def _ends() -> date:
    """The 23 November a notice given today ends the GSOMIA on (R21.3: due 90 days before the term's last day)."""
    return date(TODAY.year if TODAY <= date(TODAY.year, 8, 24) else TODAY.year + 1, 11, 23)


def _decide(at: str, *data: str) -> dict[str, object]:
    return dict(json.loads(run("decide", *data, stdin=json.dumps({**RELEASE, "at": at}))))


def test_R21_3_a_notice_recorded_on_a_node_changes_its_answers_from_the_day_it_takes_effect(node: Path) -> None:
    ends = _ends()
    before, after = f"{ends - timedelta(days=1)}T12:00:00+09:00", f"{ends}T12:00:00+09:00"
    assert _decide(after, "--data", str(node))["allowed"] is True
    recorded = json.loads(run("agreements", "notice", GSOMIA, "--by", "KOR", "--kind", "termination", "--given",
                              str(TODAY), "--decided", str(TODAY - timedelta(days=1)), "--reference",
                              "MOFA note verbale 2026-12", "--data", str(node), "--json"))
    assert (recorded["state"], recorded["applied"], recorded["kind"]) == ("recorded", True, "termination")
    pending = json.loads(run("agreements", "status", GSOMIA, "--at", before, "--data", str(node), "--json"))
    assert pending["condition"] == "in_force_notice_pending" and pending["terminates_on"] == str(ends)
    ended = json.loads(run("agreements", "status", GSOMIA, "--at", after, "--data", str(node), "--json"))
    assert ended["condition"] == "terminated"
    assert _decide(before, "--data", str(node))["allowed"] is True
    refused = _decide(after, "--data", str(node))
    assert refused["allowed"] is False and "R21.4" in refused["rules"]  # type: ignore[operator]
    # Without --data: the shipped data, as before.
    assert _decide(after)["allowed"] is True
    shipped = json.loads(run("agreements", "status", GSOMIA, "--at", after, "--json"))
    assert shipped["condition"] == "in_force"
    listed = json.loads(run("agreements", "list", "--at", after, "--data", str(node), "--json"))
    assert {a["id"]: a["status"]["condition"] for a in listed}[GSOMIA] == "terminated"
    events = json.loads(run("agreements", "events", GSOMIA, "--data", str(node), "--json"))
    assert [e["id"] for e in events] == [recorded["id"]]
    assert "the shipped text and events " + recorded["id"] in run("agreements", "versions", GSOMIA, "--data",
                                                                  str(node))
    assert recorded["id"] in run("agreements", "show", GSOMIA, "--data", str(node))


def test_R21_2_an_amendment_from_the_command_line(node: Path) -> None:
    amended = json.loads(run("agreements", "amend", GSOMIA, "--given", str(TODAY), "--reference", "notes exchanged",
                             "--add-row", "TOP_SECRET:KOR=I,JPN=KIMITSU", "--highest", "top_secret", "--data",
                             str(node), "--json"))
    assert amended["amendment"] == {"add_rows": [{"tier": "TOP_SECRET", "JPN": ["KIMITSU"], "KOR": ["I"]}],
                                    "highest_tier": "TOP_SECRET"}
    shown = json.loads(run("agreements", "show", GSOMIA, "--data", str(node), "--json"))
    assert shown["highest_tier"] == "TOP_SECRET" and shown["version"] == 2


def test_R6_e_a_reader_s_notice_is_refused_with_exit_code_3(node: Path) -> None:
    appointed = json.loads(run("officials", "appoint", "--data", str(node), "--name", "Lee", "--clearance", "KOR:II",
                               "--topic", "dprk-missile", "--role", "reader", "--reason", "desk", "--json"))
    token = run("officials", "token", appointed["id"], "--reason", "own token", "--data", str(node)).strip()
    out = run("agreements", "notice", GSOMIA, "--by", "KOR", "--kind", "termination", "--given", str(TODAY),
              "--reference", "not mine", "--data", str(node), token=token, code=3)
    assert "R6.e" in out and "security officer" in out
    assert json.loads(run("agreements", "events", GSOMIA, "--data", str(node), "--json")) == []


@pytest.mark.parametrize(("args", "message"), [
    (("--kind", "expiry"), "kind must be one of"),
    (("--given", "23/08/2019"), "--given: '23/08/2019' is not an ISO 8601 date"),
    (("--given", "2999-01-01"), "after today"),
    (("--by", "FRA"), "FRA is not a party"),
    (("--kind", "suspension"), "KOR has no notice of termination"),
])
def test_bad_notices_exit_2_and_write_nothing(node: Path, args: tuple[str, ...], message: str) -> None:
    defaults = {"--by": "KOR", "--kind": "termination", "--given": str(TODAY), "--reference": "note"}
    defaults.update(dict(zip(args[::2], args[1::2], strict=True)))
    out = run("agreements", "notice", GSOMIA, *[x for pair in defaults.items() for x in pair], "--data", str(node),
              code=2)
    assert message in " ".join(out.split())
    assert json.loads(run("agreements", "events", GSOMIA, "--data", str(node), "--json")) == []


def test_a_bad_row_and_an_unknown_node_are_clear_errors(node: Path, tmp_path: Path) -> None:
    assert "write TIER:PARTY=CODE" in run("agreements", "amend", GSOMIA, "--given", str(TODAY), "--reference", "x",
                                          "--add-row", "TOP_SECRET", "--data", str(node), code=2)
    assert "gsomia.toml" in run("agreements", "status", GSOMIA, "--data", str(tmp_path / "nowhere"), code=2)
