"""`restai-edge menu pull|status`: the branch's catalog from the central, pulled now or shown.

Both run as a second process beside a running `serve`: `pull` applies in one store transaction
(the serving device announces the change to open pages within seconds) and `status` only reads.
"""

from __future__ import annotations

import json
from typing import Any

import click

from edge.store import Store
from provisioning.command import Obj, last_upstream_error, pass_obj, run, with_store
from sync.catalog_pull import CatalogPuller, PullReport
from sync.catalog_status import menu_status

DISABLED_HINT = "provision with --central-url and --device-token to enable it"


def _status_lines(status: dict[str, Any]) -> list[str]:
    source = status["source"] or "none yet"
    lines = [f"Menu: {status['items']} items, source {source}, version {status['version'] or '-'}"]
    if status["applied_at"]:
        lines.append(f"  applied:      {status['applied_at']} ({status['age_s']} s ago)")
    state = status["state"]
    explanations = {
        "disabled": f"no central URL ({DISABLED_HINT})",
        "never": "not pulled from the central yet",
        "ok": "up to date with the central",
        "retrying": f"the last pull failed; next attempt {status['next_attempt_at']}",
        "stopped": "the central refused this device; fix the token, then run"
        " 'restai-edge menu pull'",
        "not_offered": "the central does not offer a catalog; the menu on the device stays",
        "refused": "the central's current catalog is broken; the last good one stays",
    }
    lines.append(f"  central:      {state}: {explanations[state]}")
    lines.append(f"  etag:         {status['etag'] or '-'}")
    lines.append(f"  last pull:    {status['last_pull'] or 'never'}")
    lines.append(f"  last error:   {last_upstream_error(status['last_error'])}")
    pictures = status["pictures"]
    lines.append(f"  pictures:     {pictures['kept']} of {pictures['named']} kept on the device")
    return lines


def failure_line(report: PullReport) -> str | None:
    problem = report.problem
    if report.outcome == "disabled":
        return f"catalog pulls are disabled: this device has no central URL ({DISABLED_HINT})"
    if problem is None:
        return None
    if report.outcome == "stopped":
        return f"the central refused this device: {problem.message}"
    if report.outcome == "failed":
        return f"catalog pull failed, the device will retry on its own: {problem.message}"
    if report.outcome == "refused":
        return f"{problem.message}; the menu on the device stays as it was"
    return None


def outcome_line(report: PullReport) -> str:
    if report.outcome == "disabled":
        return "Catalog pulls are disabled (no central URL)."
    if report.outcome == "applied":
        line = f"Applied catalog {report.version} from the central."
    elif report.outcome == "unchanged":
        line = f"The central's catalog is unchanged ({report.version})."
    else:
        line = "The central does not offer a catalog; the menu on the device stays as it was."
    if report.pictures_failed:
        line += f" {report.pictures_failed} picture(s) could not be fetched (retried next pull)."
    return line


def report_view(report: PullReport) -> dict[str, Any]:
    return {
        "outcome": report.outcome,
        "version": report.version,
        "pictures_failed": report.pictures_failed,
        "error": report.problem.view() if report.problem else None,
    }


@click.command("pull")
@click.option("--json", "as_json", is_flag=True, help="Print JSON")
@pass_obj
@click.pass_context
def pull_command(ctx: click.Context, obj: Obj, as_json: bool) -> None:
    """Pull the catalog from the central now (ignores a backoff; resumes after a 401/403)."""
    settings = obj.settings()

    async def pull(store: Store) -> tuple[PullReport, dict[str, Any]]:
        puller = CatalogPuller(
            store, settings.data_dir, settings.catalog_interval, settings.sync_backoff_cap
        )
        report = await puller.run(force=True)
        return report, await menu_status(store)

    report, status = run(with_store(obj.provisioned_store(), pull))
    failure = failure_line(report)
    if as_json:
        click.echo(json.dumps({**report_view(report), "status": status}, indent=2))
        if failure is not None:
            ctx.exit(1)
        return
    if failure is not None:
        raise click.ClickException(failure)
    click.echo(outcome_line(report))


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON")
@pass_obj
def status_command(obj: Obj, as_json: bool) -> None:
    """Show where the menu came from, its version, the last pull and the last error."""
    status = run(with_store(obj.provisioned_store(), menu_status))
    if as_json:
        click.echo(json.dumps(status, indent=2))
        return
    for line in _status_lines(status):
        click.echo(line)


COMMANDS: list[click.Command] = [pull_command, status_command]
