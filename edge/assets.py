"""The pages' static files, held in memory ready to send: as they are, and gzip and brotli forms.

Phones on a crowded restaurant Wi-Fi pay for every byte, so each text file is compressed once,
when the server starts (`compress_all`), and a request only picks bytes by its Accept-Encoding.
Every file is named by a hash of what is served (`?v=`), and stylesheets get the same versioned
URL for whatever they reference (the brand icon), so nothing a page uses is fetched twice.

Only files that exist under the folder are served: a directory, an unknown name or a NUL byte
in the path is simply not found.
"""

from __future__ import annotations

import gzip
import hashlib
import posixpath
import re
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path

import brotli

# Preferred first where a client accepts both equally.
ENCODINGS = ("br", "gzip")
# Below this a compressed form would not pay for its headers, and pages are smaller than that
# only when they are error pages.
MIN_COMPRESS_BYTES = 512
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".html": "text/html; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".LICENSE": "text/plain; charset=utf-8",
    ".png": "image/png",
    ".webp": "image/webp",
    ".woff2": "font/woff2",
}
# Formats that are compressed already.
BINARY = {".png", ".webp", ".woff2"}
CSS_URL = re.compile(r"""url\(\s*(["']?)([^"')?#]+)\1\s*\)""")


def compress(body: bytes, encoding: str, *, fast: bool = False) -> bytes:
    """`fast` for bytes made per request (pages); assets get the smallest form once."""
    if encoding == "br":
        return bytes(brotli.compress(body, quality=5 if fast else 11))
    return gzip.compress(body, compresslevel=6 if fast else 9, mtime=0)


def negotiate(accept_encoding: str) -> str | None:
    """The encoding to answer with ("br" or "gzip"), or None for the bytes as they are.

    Honours q-values, including `q=0` refusals and `*`."""
    weights: dict[str, float] = {}
    for part in accept_encoding.split(","):
        name, _, params = part.partition(";")
        weight = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if name.strip():
            weights[name.strip().lower()] = weight
    best: tuple[float, str] | None = None
    for encoding in ENCODINGS:
        weight = weights.get(encoding, weights.get("*", 0.0))
        if weight > 0 and (best is None or weight > best[0]):
            best = (weight, encoding)
    return best[1] if best else None


@dataclass
class Asset:
    path: str
    content_type: str
    body: bytes
    digest: str
    last_modified: str
    compressible: bool
    variants: dict[str, bytes] = field(default_factory=dict)

    def body_for(self, encoding: str | None) -> tuple[bytes, str | None]:
        """The bytes to send for a client that accepts `encoding`, and their encoding."""
        if encoding is None or not self.compressible:
            return self.body, None
        if encoding not in self.variants:
            self.variants[encoding] = compress(self.body, encoding)
        packed = self.variants[encoding]
        # A form that saves too little is not worth the client's decompression.
        if len(packed) > len(self.body) * 0.9:
            return self.body, None
        return packed, encoding

    def etag(self, encoding: str | None) -> str:
        return f'"{self.digest}-{encoding}"' if encoding else f'"{self.digest}"'


class AssetTable:
    """Every file under `root`, by its path relative to it (`js/staff.js`)."""

    def __init__(self, root: Path) -> None:
        self._assets: dict[str, Asset] = {}
        files = sorted(path for path in root.rglob("*") if path.is_file())
        visible = [path for path in files if not path.name.startswith(".")]
        # Stylesheets last: they name the others by their versioned URLs.
        for path in sorted(visible, key=lambda path: path.suffix == ".css"):
            name = path.relative_to(root).as_posix()
            body = path.read_bytes()
            if path.suffix == ".css":
                body = self._version_references(name, body)
            self._assets[name] = Asset(
                path=name,
                content_type=CONTENT_TYPES.get(
                    path.suffix or path.name, "application/octet-stream"
                ),
                body=body,
                digest=hashlib.sha256(body).hexdigest()[:12],
                last_modified=formatdate(path.stat().st_mtime, usegmt=True),
                compressible=path.suffix not in BINARY and len(body) >= MIN_COMPRESS_BYTES,
            )

    def get(self, path: str) -> Asset | None:
        return self._assets.get(path)

    def version(self, path: str) -> str:
        """`path?v=<hash of what is served>`; KeyError for a file that is not there."""
        return f"{path}?v={self._assets[path].digest}"

    def compress_all(self) -> None:
        for asset in self._assets.values():
            for encoding in ENCODINGS:
                asset.body_for(encoding)

    def _version_references(self, name: str, css: bytes) -> bytes:
        def versioned(match: re.Match[str]) -> str:
            quote, reference = match.group(1), match.group(2)
            target = posixpath.normpath(posixpath.join(posixpath.dirname(name), reference))
            if target not in self._assets:
                return match.group(0)
            return f"url({quote}{reference}?v={self._assets[target].digest}{quote})"

        return CSS_URL.sub(versioned, css.decode("utf-8")).encode("utf-8")
