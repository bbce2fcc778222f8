"""`restai-edge sync ...` and `restai-edge central-dev` (issue #6)."""

from __future__ import annotations

import click

from sync.central_dev import central_dev_command


@click.group("sync")
def sync_group() -> None:
    """Upstream sync to the central RestAI API."""


COMMANDS: list[click.Command] = [sync_group, central_dev_command]
