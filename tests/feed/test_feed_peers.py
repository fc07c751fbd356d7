"""peers.toml's optional `feed_url`: where this node pushes its feed; on the peer url's host, wss:// only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gsomia.cli.main import app
from gsomia.crypto import export_public
from gsomia.demo.loopback import create_federation
from gsomia.services.partners import PeerConfigError, add_peer, load_partners

PASSPHRASE = b"feed peers test passphrase"


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    nodes = create_federation(tmp_path_factory.mktemp("peers"), passphrase=PASSPHRASE, parties=("KOR", "USA"),
                              feed_links=(("KOR", "USA"),))
    return {party: node.data for party, node in nodes.items()}


def test_the_loopback_federation_lists_feed_urls_where_links_are_agreed(pair: dict[str, Path]) -> None:
    usa_settings = (pair["USA"] / "gsomia.toml").read_text(encoding="utf-8")
    usa_port = next(line.split('"')[1] for line in usa_settings.splitlines() if line.startswith("feed_port"))
    assert load_partners(pair["KOR"]).by_party["USA"].feed_url == f"wss://127.0.0.1:{usa_port}"
    assert load_partners(pair["USA"]).by_party["KOR"].feed_url is None


@pytest.mark.parametrize("feed_url", ["ws://127.0.0.1:9302", "wss://10.0.0.1:9302", "wss://127.0.0.1",
                                      "https://127.0.0.1:9302"])
def test_a_feed_url_must_be_tls_on_the_peer_hosts_port(pair: dict[str, Path], feed_url: str) -> None:
    document = export_public(pair["USA"])
    with pytest.raises(PeerConfigError, match="feed_url"):
        add_peer(pair["KOR"], "USA", "https://127.0.0.1:9301", document, feed_url)


def test_peers_add_takes_a_feed_url_and_list_shows_it(pair: dict[str, Path], tmp_path: Path) -> None:
    public = tmp_path / "USA.json"
    public.write_text(json.dumps(export_public(pair["USA"])), encoding="utf-8")
    runner = CliRunner()
    before = (pair["KOR"] / "peers.toml").read_text(encoding="utf-8")
    try:
        added = runner.invoke(app, ["peers", "add", "--data", str(pair["KOR"]), "--party", "USA", "--url",
                                    "https://127.0.0.1:9301", "--public", str(public),
                                    "--feed-url", "wss://127.0.0.1:9399"])
        assert added.exit_code == 0, added.output
        listed = runner.invoke(app, ["peers", "list", "--data", str(pair["KOR"]), "--json"])
        assert listed.exit_code == 0, listed.output
        rows = {row["party"]: row for row in json.loads(listed.output)}
        assert rows["USA"]["feed_url"] == "wss://127.0.0.1:9399"
        refused = runner.invoke(app, ["peers", "add", "--data", str(pair["KOR"]), "--party", "USA", "--url",
                                      "https://127.0.0.1:9301", "--public", str(public), "--feed-url", "ws://x:1"])
        assert refused.exit_code != 0 and "feed_url" in refused.output
        assert load_partners(pair["KOR"]).by_party["USA"].feed_url == "wss://127.0.0.1:9399"
    finally:
        (pair["KOR"] / "peers.toml").write_text(before, encoding="utf-8")
