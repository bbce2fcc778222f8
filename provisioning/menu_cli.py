"""`restai-edge menu ...` (issue #4)."""

from __future__ import annotations

import click


@click.group("menu")
def menu_group() -> None:
    """Manage the branch's menu."""
