"""Installer commands: status, qr, backup, restore (issue #5)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
