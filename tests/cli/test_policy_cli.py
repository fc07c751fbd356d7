"""`gsomia agreements …` and `gsomia decide`: what a security officer types, and clear errors."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from gsomia.cli.main import app

runner = CliRunner()

RELEASE = {
    "action": "release", "at": "2019-11-25T09:00:00+09:00",
    "subject": {"party": "KOR", "clearance": "KOR:II", "clearance_expires": "2027-01-01T00:00:00Z",
                "need_to_know": ["dprk-missile"], "roles": ["releasing_official"]},
    "item": {"originator": "KOR", "classification": "군사II급비밀", "releasable_to": ["USA", "JPN", "KOR"],
             "topics": ["dprk-missile"], "purpose": "missile warning"},
    "recipient": "JPN",
}


def decide(stdin: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["decide"], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_decide_one_request() -> None:
    code, out, _ = decide(json.dumps(RELEASE))
    assert code == 0
    answer = json.loads(out)
    assert answer["allowed"] is True and answer["agreement"] == "jpn-kor-gsomia-2016"
    assert set(answer) == {"allowed", "rules", "reasons", "agreement"}


def test_decide_a_json_lines_stream() -> None:
    early = {**RELEASE, "at": "2016-11-01T00:00:00Z"}
    relayed = {**early, "via": "USA", "consents": [{"by": "KOR", "to": "JPN", "topics": ["dprk-missile"]}]}
    code, out, _ = decide("\n".join(json.dumps(r) for r in (RELEASE, early, relayed)) + "\n")
    answers = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [a["allowed"] for a in answers] == [True, False, True]
    assert "T4" in answers[1]["rules"] and answers[2]["agreement"] == "usa-jpn-kor-tisa-2014"


@pytest.mark.parametrize(("stdin", "message"), [
    ("", "no request"),
    ("{not json", "not JSON"),
    (json.dumps({**RELEASE, "action": "launch"}), "action must be one of"),
    (json.dumps({**RELEASE, "at": "yesterday"}), "at:"),
    (json.dumps({**RELEASE, "at": "2019-11-25T09:00:00"}), "no time zone"),
    (json.dumps({**RELEASE, "recipient": "FRA"}), "unknown party 'FRA'"),
    (json.dumps({**RELEASE, "item": {**RELEASE["item"], "classification": "KOR:IV"}}), "not a KOR classification"),
    (json.dumps({**RELEASE, "subject": {**RELEASE["subject"], "roles": ["general"]}}), "unknown role"),
    (json.dumps({**RELEASE, "agreement": "nato-1949"}), "unknown agreement"),
    (json.dumps({**RELEASE, "colour": "red"}), "unknown request field"),
    (json.dumps([1, 2]), "must be an object"),
])
def test_malformed_input_is_a_clear_error_with_exit_code_2(stdin: str, message: str) -> None:
    code, out, err = decide(stdin)
    assert code == 2 and out == ""
    assert message in err and "Traceback" not in err


def test_agreements_list_show_and_status_as_json() -> None:
    listed = runner.invoke(app, ["agreements", "list", "--json", "--at", "2024-01-01"])
    assert listed.exit_code == 0
    assert {a["id"] for a in json.loads(listed.stdout)} == {
        "jpn-kor-gsomia-2016", "usa-kor-gsomia-1987", "usa-jpn-gsomia-2007", "usa-jpn-kor-tisa-2014"}
    shown = runner.invoke(app, ["agreements", "show", "usa-jpn-kor-tisa-2014", "--json"])
    assert json.loads(shown.stdout)["relays"][0]["via"] == "USA"
    status = runner.invoke(app, ["agreements", "status", "jpn-kor-gsomia-2016", "--at", "2019-11-23T12:00:00+09:00",
                                 "--json"])
    assert json.loads(status.stdout)["condition"] == "in_force_notice_suspended"


def test_agreements_human_output_and_unknown_id() -> None:
    assert "jpn-kor-gsomia-2016" in runner.invoke(app, ["agreements", "list"]).stdout
    assert "極秘" in runner.invoke(app, ["agreements", "show", "jpn-kor-gsomia-2016"]).stdout
    missing = runner.invoke(app, ["agreements", "status", "nato-1949"])
    assert missing.exit_code == 2 and "unknown agreement" in missing.stderr
    bad_time = runner.invoke(app, ["agreements", "status", "jpn-kor-gsomia-2016", "--at", "noon"])
    assert bad_time.exit_code == 2 and "ISO 8601" in bad_time.stderr
