"""For the CLI's tests beside running nodes: a loopback federation of which some nodes serve (in threads, as
`gsomia serve` would), and the CLI invoked on a node's data directory as an official."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.federation.harness import PASSPHRASE, start, stop_all
from typer.testing import CliRunner, Result

from gsomia.cli.main import app
from gsomia.demo.loopback import LoopbackNode, create_federation

runner = CliRunner()


@contextmanager
def serving(base: Path, *parties: str) -> Iterator[dict[str, LoopbackNode]]:
    """KOR, JPN and USA created; those named serve until the block ends, the others are configured partners."""
    specs = create_federation(base, passphrase=PASSPHRASE)
    running = {party: start(specs[party]) for party in parties}
    try:
        yield specs
    finally:
        stop_all(running)


def invoke(node: LoopbackNode, token: str, *args: str, code: int = 0, stdin: str | None = None) -> Result:
    """`gsomia ARGS --data NODE` with GSOMIA_TOKEN=token ("": the local security officer); no traceback ever."""
    env = {"GSOMIA_TOKEN": token, "GSOMIA_KEY_PASSPHRASE": PASSPHRASE.decode()}
    result = runner.invoke(app, [*args, "--data", str(node.data)], env=env, input=stdin)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == code, result.output
    return result
