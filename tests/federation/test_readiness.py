"""`/v1/ready` of a running node: 503 naming what fails while its partners are down, 200 once they are up;
`/v1/health` answers all along (liveness), and neither needs a token."""

from __future__ import annotations

import time

from tests.federation.harness import RunningNode, start, stop_all

from gsomia.demo.client import official_client
from gsomia.demo.loopback import LoopbackNode
from gsomia.services.readiness import PartnerProbe


def test_not_ready_while_partners_are_down_then_ready(specs: dict[str, LoopbackNode]) -> None:
    running: dict[str, RunningNode] = {"KOR": start(specs["KOR"])}
    try:
        kor = specs["KOR"]
        with official_client(kor.api_url, kor.root_certificate, "") as anonymous:
            assert anonymous.get("/v1/health").status_code == 200
            answer = anonymous.get("/v1/ready")
            assert answer.status_code == 503, answer.text
            checks = answer.json()["checks"]
            assert checks["store"] == "ok" and checks["keys"] == "ok"
            assert "JPN unreachable" in checks["partners"] and "USA unreachable" in checks["partners"]
            assert answer.headers["x-request-id"]

            running.update({p: start(specs[p]) for p in ("JPN", "USA")})
            probe = running["KOR"].server.api_app.state.partner_probe
            assert isinstance(probe, PartnerProbe)
            cached = anonymous.get("/v1/ready")  # within ready_probe_every_s: the last probe's answer
            assert cached.status_code == 503
            probe.every_s = 0.0  # the next call probes again
            deadline = time.monotonic() + 20
            while (answer := anonymous.get("/v1/ready")).status_code != 200 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert answer.status_code == 200, answer.text
            assert answer.json() == {"status": "ready", "checks": {"store": "ok", "keys": "ok", "partners": "ok"}}
    finally:
        stop_all(running)
