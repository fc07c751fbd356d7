"""The README's "first ten minutes", run as written: each command in turn in one bash session (so that the
exported passphrase and token, `$LEE` and `$ITEM` carry on as in a terminal), each one's exit status checked
as it finishes, with the `gsomia` of this checkout first on PATH. Only the ports change: the README's are
swapped for free ones, so that the test never collides with anything else on the machine.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from gsomia.demo.loopback import free_port

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "## The first ten minutes"
PORTS = re.compile(r"\b93[12][0-2]\b")  # the README's ports: 9310-9312 (KOR), 9320-9322 (JPN)
HEREDOC = re.compile(r"<<-?\s*'?(\w+)'?")
PER_COMMAND_S = 120.0


def walkthrough() -> list[str]:
    """The commands of the section's shell block: continuation lines and here-documents kept whole, comments
    and blank lines dropped."""
    text = README.read_text(encoding="utf-8")
    block = text[text.index(SECTION):].split("```sh\n", 1)[1].split("\n```", 1)[0]
    commands: list[str] = []
    lines = iter(block.splitlines())
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        command = line
        while command.endswith("\\"):
            command += "\n" + next(lines)
        heredoc = HEREDOC.search(command)
        if heredoc:
            for body in lines:
                command += "\n" + body
                if body.strip() == heredoc.group(1):
                    break
        commands.append(command)
    return commands


class Shell:
    """One bash, fed a command at a time; after each, the command's exit status is read back."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(["bash", "--noprofile", "--norc"], cwd=cwd, env=env, text=True,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        start_new_session=True)  # its own process group: the nodes stop with it
        self.lines: queue.Queue[str] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def run(self, command: str) -> tuple[int, str]:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{command}\nprintf '\\n__status=%d__\\n' $?\n")
        self.process.stdin.flush()
        output: list[str] = []
        deadline = time.monotonic() + PER_COMMAND_S
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=deadline - time.monotonic())
            except queue.Empty:
                break
            status = re.fullmatch(r"__status=(\d+)__\n", line)
            if status:
                return int(status.group(1)), "".join(output)
            output.append(line)
        raise TimeoutError(f"no end to {command!r} in {PER_COMMAND_S:g} s; it printed: {''.join(output)}")

    def close(self) -> None:
        """The shell and whatever it left running (the nodes, if a command failed before `kill`)."""
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=30)
        self.reader.join(timeout=30)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


def _server_logs(folder: Path) -> str:
    """What the two nodes logged but their access lines (the last 40 lines each): why a step failed."""
    shown = []
    for name in ("kor.log", "jpn.log"):
        path = folder / name
        lines = [line for line in path.read_text(errors="replace").splitlines() if '"gsomia.access"' not in line] \
            if path.exists() else []
        shown.append(f"--- {name} ---\n" + "\n".join(lines[-40:]))
    return "\n".join(shown)


@pytest.mark.slow
def test_the_first_ten_minutes_run_as_written(tmp_path: Path) -> None:
    commands = walkthrough()
    assert len(commands) > 15 and any(c.startswith("gsomia items release") for c in commands)
    ports: dict[str, str] = {}
    bin_dir = Path(sys.executable).parent
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path), "LC_ALL": "C.UTF-8", "TERM": "dumb"}
    shell = Shell(tmp_path, env)
    said: dict[str, str] = {}
    try:
        for command in commands:
            local = PORTS.sub(lambda m: ports.setdefault(m.group(0), str(free_port())), command)
            status, output = shell.run(local)
            assert status == 0, f"`{local}` exited {status}:\n{output}\n{_server_logs(tmp_path)}"
            said[command] = output
    finally:
        shell.close()
    by_start = {command.split(" --")[0]: output for command, output in said.items()}
    assert '"allowed": true' in by_start["gsomia decide < question.json"]
    assert "JPN accepted it" in next(o for c, o in said.items() if c.startswith("gsomia items release"))
    history = next(o for c, o in said.items() if c.startswith("gsomia items history"))
    assert "released" in history and "receipt" in history
    assert "delivered" in by_start["gsomia outbox"] and "accepted" in by_start["gsomia inbox"]
    assert "KOR:II" in by_start["gsomia items list"] and "held" in by_start["gsomia items list"]
    assert "<title>Sign in · gsomia KOR</title>" in next(o for c, o in said.items() if c.startswith("curl"))
    assert "Launch 05:12Z" not in "".join(said.values())  # the content is never printed
