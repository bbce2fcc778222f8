"""Table keys: proof that a diner is at the table they ask to join.

Table codes are sequential and the Wi-Fi is shared, so anyone could otherwise join any open
table, read its orders and add to its bill. Each table has a secret key, printed only in the
QR code stuck on it (`?k=KEY`); joining a table that is already active needs it (branch
setting `join_policy` = `key`, the default). Starting a session on a free table never does:
staff approve those by sight.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Sequence

from edge.branch import SHORT_CODE_ALPHABET
from edge.errors import TableKeyRequired
from edge.store import Store, Transaction

# 10 characters of a 30-letter alphabet: ~49 bits, far beyond guessing over HTTP, and letters
# a person can still read off a card if they must.
KEY_LENGTH = 10
KEY_MAX_LENGTH = 64


def new_key() -> str:
    return "".join(secrets.choice(SHORT_CODE_ALPHABET) for _ in range(KEY_LENGTH))


async def require_key(tx: Transaction, table_id: str, given: str | None) -> None:
    """Refuse a join whose key is not this table's (its current one: rotation ends old keys)."""
    stored = await tx.fetch_value("SELECT table_key FROM tables WHERE id = ?", (table_id,))
    if not given or not stored or not hmac.compare_digest(given.encode(), stored.encode()):
        raise TableKeyRequired()


async def table_key(store: Store, number: int) -> str:
    """The key of table `number`, as its QR code carries it."""
    return str(await store.fetch_value("SELECT table_key FROM tables WHERE number = ?", (number,)))


async def rotate_keys(store: Store, numbers: Sequence[int]) -> None:
    """Give these tables new keys; their printed QR codes stop letting people join."""

    async def work(tx: Transaction) -> None:
        await tx.executemany(
            "UPDATE tables SET table_key = ? WHERE number = ?",
            [(new_key(), number) for number in numbers],
        )

    await store.transact(work)
