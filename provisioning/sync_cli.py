"""`restai-edge sync status|now` and `restai-edge central-dev`.

Both sync commands open the store as a second process beside a running `serve`: status only
reads, and `now` claims the rows it sends, so the two never send the same row at once.
"""

from __future__ import annotations

import asyncio
import json
from contextlib import nullcontext
from typing import Any

import click

from edge.store import Store
from provisioning import catalog_cli
from provisioning.command import Obj, last_upstream_error, pass_obj
from sync import outbox
from sync.catalog_pull import CatalogPuller, PullReport
from sync.central.cli import central_dev_command
from sync.status import sync_status
from sync.uploader import PassReport, Uploader

DISABLED_HINT = "provision with --central-url and --device-token to enable it"


@click.group("sync")
def sync_group() -> None:
    """Upstream sync to the central RestAI API."""


def _status_lines(status: dict[str, Any]) -> list[str]:
    if not status["enabled"]:
        lines = [f"Upstream sync: disabled (no central URL; {DISABLED_HINT})"]
    else:
        lines = [f"Upstream sync: {status['state']} (central {status['central_url']})"]
    depth = status["queue_depth"]
    waiting = f"{depth} session(s)"
    if status["oldest_waiting"]:
        waiting += f", oldest finished {status['oldest_waiting']}"
    lines.append(f"  waiting:      {waiting}")
    lines.append(f"  last success: {status['last_success'] or 'never'}")
    lines.append(f"  last error:   {last_upstream_error(status['last_error'])}")
    if status["next_attempt_at"]:
        lines.append(f"  next attempt: {status['next_attempt_at']}")
    if status["stopped"]:
        lines.append(
            "  stopped:      the central refused this device; fix the token or the central,"
            " then run 'restai-edge sync now'"
        )
    return lines


@sync_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON")
@pass_obj
@click.pass_context
def status_command(ctx: click.Context, obj: Obj, as_json: bool) -> None:
    """Show the upload queue and the last success and error; exits 1 while sync is stopped."""

    async def read(store: Store) -> dict[str, Any]:
        async with store:
            return await sync_status(store)

    status = asyncio.run(read(obj.provisioned_store()))
    if as_json:
        click.echo(json.dumps(status, indent=2))
    else:
        for line in _status_lines(status):
            click.echo(line)
    if status["stopped"]:
        # Nothing uploads until someone acts: let scripts and monitoring notice.
        ctx.exit(1)


def _failure_line(report: PassReport) -> str | None:
    if report.outcome == "disabled":
        return f"sync is disabled: this device has no central URL ({DISABLED_HINT})"
    problem = report.problem
    if report.outcome == "stopped" and problem is not None:
        return f"sync stopped, the central refused this device: {problem.message}"
    if report.outcome == "failed" and problem is not None:
        return f"upload failed, the device will retry on its own: {problem.message}"
    return None


@sync_group.command("now")
@click.option("--json", "as_json", is_flag=True, help="Print JSON")
@pass_obj
@click.pass_context
def now_command(ctx: click.Context, obj: Obj, as_json: bool) -> None:
    """Upload waiting sessions and pull the catalog at once, ignoring any backoff (also resumes
    after a 401/403)."""
    settings = obj.settings()
    store = obj.provisioned_store()

    async def push() -> tuple[PassReport, PullReport, dict[str, Any]]:
        async with store:
            uploader = Uploader(
                store, settings.data_dir, settings.sync_interval, settings.sync_backoff_cap
            )
            depth = (await outbox.queue_stats(store)).depth
            show_bar = not as_json and depth > 0
            bar = click.progressbar(length=depth, label="Uploading") if show_bar else nullcontext()
            with bar as progress:
                report = await uploader.run(
                    force=True, on_progress=progress.update if progress else None
                )
            puller = CatalogPuller(
                store, settings.data_dir, settings.catalog_interval, settings.sync_backoff_cap
            )
            return report, await puller.run(force=True), await sync_status(store)

    report, catalog, status = asyncio.run(push())
    failure = _failure_line(report)
    catalog_failure = catalog_cli.failure_line(catalog)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "outcome": report.outcome,
                    "sent": report.sent,
                    "requests": report.requests,
                    "error": report.problem.view() if report.problem else None,
                    "status": status,
                    "catalog": catalog_cli.report_view(catalog),
                },
                indent=2,
            )
        )
        if failure is not None or catalog_failure is not None:
            ctx.exit(1)
        return
    if failure is not None:
        raise click.ClickException(failure)
    click.echo(
        f"Uploaded {report.sent} session(s) in {report.requests} request(s);"
        f" {status['queue_depth']} still waiting."
    )
    if catalog_failure is not None:
        raise click.ClickException(catalog_failure)
    click.echo(catalog_cli.outcome_line(catalog))


COMMANDS: list[click.Command] = [sync_group, central_dev_command]
