"""The pictures a catalog names, fetched at pull time and kept in `<data_dir>/images/`.

Diners' phones never load a picture from the internet: the device fetches each `image_url`
once, checks that it is a real JPEG, PNG or WebP by its content (never by the Content-Type the
server claims), and stores it under a name made from its content hash, which `/_media/<name>`
serves with long-lived caching. A picture that cannot be fetched leaves its item without one; the
next pull tries again.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import os
import re
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from PIL import Image, UnidentifiedImageError

log = logging.getLogger("restai_edge.catalog")

IMAGES_DIR = "images"
MAX_IMAGE_BYTES = 2 * 1024 * 1024
# A small file can still decode to a huge bitmap (a "decompression bomb").
MAX_IMAGE_PIXELS = 40_000_000
FETCH_CONCURRENCY = 4
# A picture fetched by one pull may wait a moment before another pull's catalog names it:
# unreferenced files are removed only once they are this old.
GC_GRACE_SECONDS = 3600.0
FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
FILE_NAME = re.compile(r"[0-9a-f]{32}\.(jpg|png|webp)")


class ImageRefused(Exception):
    """Why a picture was not kept; the message is for logs and `menu status`."""


def images_dir(data_dir: Path) -> Path:
    return data_dir / IMAGES_DIR


def sniff(data: bytes) -> str | None:
    """The format the leading bytes announce, or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def check_image(data: bytes) -> str:
    """The file extension for `data` if it is a whole JPEG, PNG or WebP; ImageRefused if not."""
    announced = sniff(data)
    if announced is None:
        raise ImageRefused("not a JPEG, PNG or WebP image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.format != announced:
                    raise ImageRefused(f"announces {announced} but decodes as {image.format}")
                width, height = image.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise ImageRefused(f"{width}x{height} pixels is too large")
                image.verify()
    except ImageRefused:
        raise
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        OSError,
        SyntaxError,
        ValueError,
    ) as exc:
        raise ImageRefused(f"broken {announced.lower()} image ({exc})"[:160]) from None
    return FORMATS[announced]


@dataclass
class FetchResult:
    files: dict[str, str] = field(default_factory=dict)  # image_url -> file name
    failures: dict[str, str] = field(default_factory=dict)  # image_url -> reason

    def summary(self) -> str:
        return f"{len(self.files)} picture(s) ready, {len(self.failures)} failed"


class ImageFetcher:
    def __init__(self, data_dir: Path, deadline: float) -> None:
        self.directory = images_dir(data_dir)
        self._deadline = deadline

    def existing(self, name: str | None) -> bool:
        return (
            bool(name)
            and FILE_NAME.fullmatch(name or "") is not None
            and (self.directory / str(name)).is_file()
        )

    async def fetch_all(
        self, client: httpx.AsyncClient, urls: Iterable[str], known: dict[str, str]
    ) -> FetchResult:
        """Have a file for every URL: `known` (URL → file already on disk) is reused, the rest
        fetched, a few at a time."""
        result = FetchResult()
        wanted = []
        for url in dict.fromkeys(urls):
            if self.existing(known.get(url)):
                result.files[url] = known[url]
            else:
                wanted.append(url)
        if not wanted:
            return result
        self.directory.mkdir(mode=0o700, exist_ok=True)
        gate = asyncio.Semaphore(FETCH_CONCURRENCY)

        async def one(url: str) -> None:
            async with gate:
                try:
                    result.files[url] = await self._fetch(client, url)
                except ImageRefused as exc:
                    result.failures[url] = str(exc)

        await asyncio.gather(*(one(url) for url in wanted))
        for url, reason in result.failures.items():
            log.warning("Picture %s not kept: %s", url[:200], reason)
        return result

    async def _fetch(self, client: httpx.AsyncClient, url: str) -> str:
        if urlsplit(url).scheme not in ("http", "https"):
            raise ImageRefused("not an http(s) URL")
        try:
            async with asyncio.timeout(self._deadline):
                data = await _download(client, url)
        except (httpx.TimeoutException, TimeoutError):
            raise ImageRefused(f"no answer within {self._deadline:g} s") from None
        except httpx.HTTPError as exc:
            raise ImageRefused(f"cannot fetch: {str(exc) or type(exc).__name__}") from None
        extension = await asyncio.to_thread(check_image, data)
        name = f"{hashlib.sha256(data).hexdigest()[:32]}.{extension}"
        target = self.directory / name
        if not target.exists():
            try:
                await asyncio.to_thread(_write_atomically, target, data)
            except OSError as exc:
                raise ImageRefused(f"cannot be stored: {exc.strerror or exc}") from None
        return name

    def collect_garbage(self, referenced: set[str], now: float | None = None) -> int:
        """Remove picture files no item names any more (after a grace period); how many."""
        if not self.directory.is_dir():
            return 0
        cutoff = (time.time() if now is None else now) - GC_GRACE_SECONDS
        removed = 0
        for path in self.directory.iterdir():
            if path.name in referenced:
                continue
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed


async def _download(client: httpx.AsyncClient, url: str) -> bytes:
    async with client.stream("GET", url, follow_redirects=True) as response:
        if response.status_code != 200:
            raise ImageRefused(f"HTTP {response.status_code}")
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_IMAGE_BYTES:
            raise ImageRefused(f"{int(declared)} bytes is over the {MAX_IMAGE_BYTES} limit")
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > MAX_IMAGE_BYTES:
                raise ImageRefused(f"over the {MAX_IMAGE_BYTES} byte limit")
            chunks.append(chunk)
    return b"".join(chunks)


def _write_atomically(target: Path, data: bytes) -> None:
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, target)
