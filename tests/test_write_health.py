"""The full-disk log: one line per interval however the writes come, including a disk at the edge
of full that lets a write through now and then (seen as three first-failure lines in a second)."""

from __future__ import annotations

import logging

import pytest

from edge.write_health import WriteHealth


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == "restai_edge.store"]


def test_a_disk_at_the_edge_of_full_is_told_once_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    health = WriteHealth(log_every=60, clock=clock)
    with caplog.at_level(logging.INFO, logger="restai_edge.store"):
        for _ in range(50):  # failing and working by turns, all within a second
            health.failed("database or disk is full")
            assert health.degraded
            clock.now += 0.01
            health.succeeded()
            assert not health.degraded
            clock.now += 0.01
        told = lines(caplog)
        assert len(told) == 2, told
        assert told[0].startswith("Store writes fail") and "work again" in told[1]

        # Failing for good: the next line comes a full interval after the last one, with the
        # writes counted since then, flaps included.
        health.failed("database or disk is full")
        clock.now += 30
        health.failed("database or disk is full")
        assert len(lines(caplog)) == 2
        clock.now += 30
        health.failed("database or disk is full")
        still = lines(caplog)[2]
        assert still.startswith("Store writes still fail") and "52 failed write(s)" in still

        clock.now += 5
        health.succeeded()
        assert "work again" in lines(caplog)[3] and len(lines(caplog)) == 4
