"""One catalog pull: ask the central for the branch's catalog, check it whole, fetch its
pictures, apply it in one transaction; or keep the last good one and say why.

`If-None-Match` carries the applied catalog's ETag (and that of a catalog refused as broken, so
a central that still serves it is not downloaded again), so an unchanged catalog costs one 304.
The body is bounded: a declared length over the limit is refused without reading a byte, and a
body without one is read only up to it. Nothing is applied before the whole body has arrived and
passed every check, so a connection cut mid-body changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import msgspec

from edge.catalog import Catalog, CatalogError, apply_catalog, parse_catalog
from edge.events import EventLog
from edge.outbox import Problem
from edge.store import Store, Transaction
from sync import catalog_status as status
from sync.backoff import full_jitter, retry_after_seconds
from sync.catalog_status import PullState
from sync.client import MESSAGE_MAX, Timeouts, Uplink, UplinkError, load_uplink
from sync.images import ImageFetcher

log = logging.getLogger("restai_edge.catalog")

# A catalog of 2,000 items with 200 modifier groups is about 1.5 MB.
MAX_CATALOG_BYTES = 16 * 1024 * 1024
MAX_ERROR_BODY = 4096
DUE_SLACK = 0.05


class BodyTooLarge(Exception):
    pass


class Envelope(msgspec.Struct):
    success: bool
    data: msgspec.Raw = msgspec.Raw(b"null")


@dataclass
class PullReport:
    """What one pull did. `outcome`: disabled, skipped, applied, unchanged, refused,
    not_offered, failed or stopped."""

    outcome: str
    version: str | None = None
    problem: Problem | None = None
    next_attempt_at: float | None = None
    pictures_failed: int = 0


@dataclass(frozen=True)
class Fetched:
    """The central's answer, read whole; `status` None when there is none (`failure` says
    why), `too_large` when a 200's body passed the limit and was not read on."""

    status: int | None
    etag: str | None = None
    body: bytes = b""
    retry_after: float | None = None
    failure: str = ""
    too_large: str = ""


async def _read_bounded(response: httpx.Response, limit: int) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"{int(declared):,} bytes announced, over the {limit:,} byte limit")
    chunks, size = [], 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"the body went past the {limit:,} byte limit (not read further)")
        chunks.append(chunk)
    return b"".join(chunks)


def _error_text(status_code: int, body: bytes) -> str:
    try:
        error = msgspec.json.decode(body)["error"]
        detail = f"{error['code']}: {error['message']}"
    except (msgspec.DecodeError, KeyError, TypeError):
        detail = body.decode("utf-8", "replace").strip()[:120] or "no detail"
    return f"central answered HTTP {status_code}: {detail}"[:MESSAGE_MAX]


def decode_answer(body: bytes) -> Catalog:
    """The CATALOG inside the central's `{"success": true, "data": ...}`; CatalogError if the
    answer or the catalog is broken."""
    try:
        envelope = msgspec.json.decode(body, type=Envelope)
    except msgspec.ValidationError as exc:
        raise CatalogError(f"not a catalog answer ({exc})") from None
    except msgspec.DecodeError as exc:
        raise CatalogError(f"not valid JSON ({exc})") from None
    if not envelope.success or bytes(envelope.data) == b"null":
        raise CatalogError("not a catalog answer: 'success' is not true or 'data' is missing")
    return parse_catalog(bytes(envelope.data))


class CatalogPuller:
    def __init__(
        self,
        store: Store,
        data_dir: Path,
        period: float,
        backoff_cap: float,
        events: EventLog | None = None,
    ) -> None:
        self._store = store
        self._period = period
        self._backoff_cap = backoff_cap
        self._events = events
        self.timeouts = Timeouts.for_period(period)
        self.images = ImageFetcher(data_dir, self.timeouts.deadline)
        self._data_dir = data_dir
        self._lock = asyncio.Lock()

    async def run(self, *, force: bool = False) -> PullReport:
        """Pull once. Without `force`, respect a backoff or a 401/403 stop."""
        async with self._lock:
            current = await status.load_pull_state(self._store)
            if not force:
                due = current.next_attempt_at is None or (
                    current.next_attempt_at <= time.time() + DUE_SLACK
                )
                if current.stopped is not None or not due:
                    return PullReport("skipped", next_attempt_at=current.next_attempt_at)
            try:
                uplink = await load_uplink(self._store, self._data_dir)
            except UplinkError as exc:
                return await self._stop(Problem(time.time(), None, str(exc)))
            if uplink is None:
                return PullReport("disabled")
            async with httpx.AsyncClient(timeout=self.timeouts.for_httpx()) as client:
                return await self._pull(client, uplink, current)

    async def _fetch(
        self, client: httpx.AsyncClient, uplink: Uplink, current: PullState
    ) -> Fetched:
        headers = dict(uplink.auth_header)
        known = [tag for tag in (current.central_etag, current.refused_etag) if tag]
        if known:
            headers["If-None-Match"] = ", ".join(dict.fromkeys(known))
        try:
            async with (
                asyncio.timeout(self.timeouts.deadline),
                client.stream("GET", uplink.catalog_url, headers=headers) as response,
            ):
                code, etag = response.status_code, response.headers.get("etag")
                try:
                    body = await _read_bounded(
                        response, MAX_CATALOG_BYTES if code == 200 else MAX_ERROR_BODY
                    )
                except BodyTooLarge as exc:
                    if code == 200:
                        return Fetched(code, etag, too_large=str(exc))
                    body = b""
                retry_after = retry_after_seconds(response.headers.get("retry-after"), time.time())
                return Fetched(code, etag, body, retry_after)
        except (httpx.TimeoutException, TimeoutError):
            return Fetched(
                None,
                failure=f"central did not send the catalog within {self.timeouts.deadline:g} s",
            )
        except httpx.ConnectError as exc:
            detail = str(exc) or type(exc).__name__
            return Fetched(None, failure=f"cannot reach central: {detail}"[:MESSAGE_MAX])
        except httpx.HTTPError as exc:
            detail = str(exc) or type(exc).__name__
            return Fetched(None, failure=f"catalog pull interrupted: {detail}"[:MESSAGE_MAX])

    async def _pull(
        self, client: httpx.AsyncClient, uplink: Uplink, current: PullState
    ) -> PullReport:
        fetched = await self._fetch(client, uplink, current)
        now = time.time()
        code = fetched.status
        if code is None:
            return await self._fail(Problem(now, None, fetched.failure), None)
        if fetched.too_large:
            message = f"catalog refused: {fetched.too_large}"
            return await self._refuse(Problem(now, code, message), fetched)
        if code == 304:
            return await self._unchanged(client, fetched.etag, current)
        if code == 200:
            try:
                # Checking a catalog of thousands of items takes a tenth of a second or more:
                # in a thread, so diners' requests are answered meanwhile.
                catalog = await asyncio.to_thread(decode_answer, fetched.body)
            except CatalogError as exc:
                return await self._refuse(Problem(now, 200, f"catalog refused: {exc}"), fetched)
            return await self._apply(client, catalog, fetched)
        problem = Problem(now, code, _error_text(code, fetched.body))
        if code in (404, 501):
            return await self._not_offered(problem, current)
        if code in (401, 403):
            return await self._stop(problem)
        return await self._fail(problem, fetched.retry_after)

    async def _known_pictures(self) -> dict[str, str]:
        rows = await self._store.fetch_all(
            "SELECT image_url, image_file FROM menu_items"
            " WHERE image_url IS NOT NULL AND image_file IS NOT NULL"
        )
        return {row["image_url"]: row["image_file"] for row in rows}

    async def _apply(
        self, client: httpx.AsyncClient, catalog: Catalog, fetched: Fetched
    ) -> PullReport:
        urls = [item.image_url for item in catalog.items if item.image_url]
        pictures = await self.images.fetch_all(client, urls, await self._known_pictures())
        started = time.perf_counter()
        try:
            summary = await apply_catalog(
                self._store,
                catalog,
                source="central",
                etag=fetched.etag,
                images=pictures.files,
                events=self._events,
            )
        except (CatalogError, sqlite3.IntegrityError) as exc:
            problem = Problem(time.time(), 200, f"catalog refused by the store: {exc}")
            return await self._refuse(problem, fetched)

        applied_in = time.perf_counter() - started

        async def work(tx: Transaction) -> None:
            await status.record_answer(tx, time.time(), refused=None, refused_etag=None)

        await self._store.transact(work)
        await self._collect_garbage()
        log.info(
            "Catalog %s applied in %.2f s: %d items (%d added, %d retired, %d deleted), %d"
            " modifier groups; %s",
            summary.version,
            applied_in,
            summary.items,
            summary.added,
            summary.retired,
            summary.deleted,
            summary.modifier_groups,
            pictures.summary(),
        )
        return PullReport("applied", summary.version, pictures_failed=len(pictures.failures))

    async def _unchanged(
        self, client: httpx.AsyncClient, etag: str | None, current: PullState
    ) -> PullReport:
        still_refused = (
            current.refused if etag is not None and etag == current.refused_etag else None
        )

        async def work(tx: Transaction) -> None:
            await status.record_answer(
                tx, time.time(), refused=still_refused, refused_etag=current.refused_etag
            )

        await self._store.transact(work)
        failed = await self._retry_pictures(client)
        outcome = "refused" if still_refused else "unchanged"
        return PullReport(outcome, current.version, still_refused, pictures_failed=failed)

    async def _retry_pictures(self, client: httpx.AsyncClient) -> int:
        """A picture that failed at the last pull (or whose file is gone) is fetched again even
        when the catalog did not change."""
        rows = await self._store.fetch_all(
            "SELECT DISTINCT image_url, image_file FROM menu_items"
            " WHERE retired = 0 AND image_url IS NOT NULL"
        )
        missing = [row["image_url"] for row in rows if not self.images.existing(row["image_file"])]
        if not missing:
            return 0
        pictures = await self.images.fetch_all(client, missing, {})
        if pictures.files:
            await self._attach(pictures.files)
        return len(pictures.failures)

    async def _attach(self, files: dict[str, str]) -> None:
        events = self._events or EventLog(self._store)

        async def work(tx: Transaction) -> None:
            await tx.executemany(
                "UPDATE menu_items SET image_file = ? WHERE image_url = ? AND retired = 0",
                [(name, url) for url, name in files.items()],
            )
            branch_id = await tx.fetch_value("SELECT id FROM branch LIMIT 1")
            version = await tx.fetch_value("SELECT value FROM catalog_state WHERE key = 'version'")
            await events.record(
                tx,
                "menu:updated",
                branch_id=branch_id,
                session_id=None,
                table_id=None,
                table_number=None,
                version=version,
            )

        await self._store.transact(work)
        log.info("Fetched %d picture(s) that were missing", len(files))

    async def _collect_garbage(self) -> None:
        rows = await self._store.fetch_all(
            "SELECT DISTINCT image_file FROM menu_items WHERE image_file IS NOT NULL"
        )
        removed = self.images.collect_garbage({row["image_file"] for row in rows})
        if removed:
            log.info("Removed %d picture(s) no item names any more", removed)

    async def _refuse(self, problem: Problem, fetched: Fetched) -> PullReport:
        async def work(tx: Transaction) -> None:
            await status.record_answer(tx, problem.at, refused=problem, refused_etag=fetched.etag)

        await self._store.transact(work)
        log.warning("Central catalog refused, keeping the last good one: %s", problem.message)
        return PullReport("refused", problem=problem)

    async def _not_offered(self, problem: Problem, current: PullState) -> PullReport:
        async def work(tx: Transaction) -> None:
            await status.record_not_offered(tx, problem)

        await self._store.transact(work)
        if current.not_offered is None:
            log.info(
                "The central does not offer a catalog (HTTP %s); keeping the menu on the device",
                problem.status,
            )
        return PullReport("not_offered", current.version, problem)

    async def _fail(self, problem: Problem, retry_after: float | None) -> PullReport:
        def delay_after(failures: int) -> float:
            if retry_after is not None:
                return retry_after
            return full_jitter(failures, self._period, self._backoff_cap)

        async def work(tx: Transaction) -> float:
            return await status.record_failure(tx, problem, delay_after)

        next_attempt = await self._store.transact(work)
        log.warning(
            "Catalog pull failed (%s); next attempt in %.1f s",
            problem.message,
            max(0.0, next_attempt - time.time()),
        )
        return PullReport("failed", problem=problem, next_attempt_at=next_attempt)

    async def _stop(self, problem: Problem) -> PullReport:
        async def work(tx: Transaction) -> None:
            await status.record_stop(tx, problem)

        await self._store.transact(work)
        log.warning(
            "Catalog pulls stopped until 'restai-edge menu pull' or 'sync now' succeeds: %s",
            problem.message,
        )
        return PullReport("stopped", problem=problem)
