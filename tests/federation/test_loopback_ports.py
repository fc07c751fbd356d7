"""Loopback nodes' ports (demo/loopback.py `free_port`): every port handed out is free, and none is handed out
twice. A federation's nine ports are chosen before any node binds one, so a port picked twice passes the "free
now" check both times, and the node that binds it second does not start (a CI run lost test_faults' module so)."""

from __future__ import annotations

from gsomia.demo.loopback import free_port


def test_free_port_never_hands_out_one_port_twice() -> None:
    ports = [free_port() for _ in range(2_000)]  # about an eighth of the range below the kernel's ephemeral one
    assert len(set(ports)) == len(ports)
