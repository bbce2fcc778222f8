#!/usr/bin/env bash
# Re-fetch the pinned Socket.IO browser client from the npm registry and
# (re)produce edge/static/vendor/{socket.io.min.js,socket.io-client.LICENSE}.
#
# Usage:
#   scripts/vendor-socketio.sh          # fetch, verify, write the vendored files
#   scripts/vendor-socketio.sh --check  # fetch, verify, compare with the vendored files; write nothing
#
# Needs: npm, tar, openssl, base64, sha256sum. See edge/static/vendor/VENDOR.md.
set -euo pipefail

PKG="socket.io-client"
VERSION="4.8.4"
# npm "dist.integrity" of ${PKG}-${VERSION}.tgz
TARBALL_INTEGRITY="sha512-7wjKAvVXYOJsbmUgkWbnhPD4bFpkqrUR0++XOjpGFmqDqsqV1CI93VTraeExLxpjxEqrWgFoSRZu1ihjLWfkAA=="
# sha256 of package/dist/socket.io.min.js inside that tarball
MINJS_SHA256="d5d79a35039e860b32bdef4795528b05c2f788d4b2d9dacc913120e2878f7b3f"

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${REPO_ROOT}/edge/static/vendor"

mode="write"
case "${1:-}" in
  "") ;;
  --check) mode="check" ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

for tool in npm tar openssl base64 sha256sum; do
  command -v "$tool" >/dev/null || { echo "error: '$tool' not found" >&2; exit 1; }
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cd "$work"
npm pack --silent "${PKG}@${VERSION}" >/dev/null
tarball="${work}/${PKG}-${VERSION}.tgz"
[[ -f "$tarball" ]] || { echo "error: npm pack did not produce $tarball" >&2; exit 1; }

actual_integrity="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [[ "$actual_integrity" != "$TARBALL_INTEGRITY" ]]; then
  echo "error: tarball integrity mismatch" >&2
  echo "  expected: $TARBALL_INTEGRITY" >&2
  echo "  actual:   $actual_integrity" >&2
  exit 1
fi
echo "ok: ${PKG}-${VERSION}.tgz integrity $actual_integrity"

tar -xzf "$tarball" package/dist/socket.io.min.js package/LICENSE
actual_sha256="$(sha256sum package/dist/socket.io.min.js | cut -d' ' -f1)"
if [[ "$actual_sha256" != "$MINJS_SHA256" ]]; then
  echo "error: socket.io.min.js sha256 mismatch" >&2
  echo "  expected: $MINJS_SHA256" >&2
  echo "  actual:   $actual_sha256" >&2
  exit 1
fi
echo "ok: socket.io.min.js sha256 $actual_sha256"

if [[ "$mode" == "check" ]]; then
  status=0
  cmp -s package/dist/socket.io.min.js "${DEST}/socket.io.min.js" \
    || { echo "differs: ${DEST}/socket.io.min.js" >&2; status=1; }
  cmp -s package/LICENSE "${DEST}/socket.io-client.LICENSE" \
    || { echo "differs: ${DEST}/socket.io-client.LICENSE" >&2; status=1; }
  [[ $status -eq 0 ]] && echo "ok: vendored copy in ${DEST} matches ${PKG}@${VERSION}"
  exit $status
fi

mkdir -p "$DEST"
install -m 0644 package/dist/socket.io.min.js "${DEST}/socket.io.min.js"
install -m 0644 package/LICENSE "${DEST}/socket.io-client.LICENSE"
echo "wrote ${DEST}/socket.io.min.js and ${DEST}/socket.io-client.LICENSE"
