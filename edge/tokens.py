"""JWTs for diners and staff: HS256 with the device's own secret, algorithm pinned on verify.

A token that verifies is not yet enough: `edge.auth` also checks the store on every use, so a
diner's token dies with its session and a removed staff member's token dies with them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt
import msgspec
import uuid_utils
from jwt.algorithms import HMACAlgorithm

from edge.errors import Unauthorized

ALGORITHM = "HS256"
STAFF_ROLES = ("manager", "waiter", "cashier", "kitchen")


class _Payload(msgspec.Struct):
    """The claims a token must carry, typed: a verified token missing one, or with a string or
    a float where an integer goes, is refused like a forged one."""

    sub: str
    role: str
    branch: str
    exp: int
    iat: int
    table: str | None = None
    diner: str | None = None
    jti: str = ""
    ver: int = 0


_decode_payload = msgspec.json.Decoder(_Payload).decode
_encode_payload = msgspec.json.Encoder().encode


class SecretHS256(HMACAlgorithm):
    """HS256 that checks its one secret once, not on every token.

    PyJWT makes sure an HMAC key is no PEM, SSH or DER public key and no JSON document before
    each signature and each verification: a DER parse and a JSON parse that fail, which took
    more time than the signature itself, once per diner asking for a table and per order.
    The checks depend on the key alone; any other key still gets them every time.
    """

    def __init__(self, secret: str) -> None:
        super().__init__(HMACAlgorithm.SHA256)
        self._secret = secret
        self._checked = super().prepare_key(secret)

    def prepare_key(self, key: str | bytes) -> bytes:
        if key == self._secret:
            return self._checked
        return super().prepare_key(key)


@dataclass(frozen=True)
class CustomerClaims:
    session_id: str
    branch_id: str
    table_id: str
    diner_id: str
    expires_at: int


@dataclass(frozen=True)
class StaffClaims:
    staff_id: str
    role: str
    branch_id: str
    expires_at: int
    # The token's own id (what a logout revokes) and the staff member's `auth_version` when it
    # was issued (a role or PIN change bumps it, ending every token issued before).
    jti: str = ""
    version: int = 0


Claims = CustomerClaims | StaffClaims


class TokenService:
    def __init__(self, secret: str, customer_ttl: int, staff_ttl: int) -> None:
        self._secret = secret
        self.customer_ttl = customer_ttl
        self.staff_ttl = staff_ttl
        # The JWS layer of PyJWT with HS256 alone; the claims are this module's (`_Payload`).
        self._jws = jwt.PyJWS(algorithms=[])
        self._jws.register_algorithm(ALGORITHM, SecretHS256(secret))

    def __repr__(self) -> str:
        return f"TokenService(customer_ttl={self.customer_ttl}, staff_ttl={self.staff_ttl})"

    def _sign(self, claims: dict[str, object], ttl: int) -> str:
        now = int(time.time())
        payload = _encode_payload({**claims, "iat": now, "exp": now + ttl})
        return self._jws.encode(payload, self._secret, ALGORITHM)

    def issue_customer(self, session_id: str, branch_id: str, table_id: str, diner_id: str) -> str:
        return self._sign(
            {
                "sub": session_id,
                "role": "customer",
                "branch": branch_id,
                "table": table_id,
                "diner": diner_id,
                "jti": str(uuid_utils.uuid4()),
            },
            self.customer_ttl,
        )

    def issue_staff(self, staff_id: str, role: str, branch_id: str, version: int = 0) -> str:
        return self._sign(
            {
                "sub": staff_id,
                "role": role,
                "branch": branch_id,
                "ver": version,
                "jti": str(uuid_utils.uuid4()),
            },
            self.staff_ttl,
        )

    def decode(self, token: str) -> Claims:
        """Verify signature, algorithm, claims and expiry; raise `Unauthorized` otherwise."""
        try:
            payload = _decode_payload(self._jws.decode(token, self._secret, [ALGORITHM]))
        except (jwt.PyJWTError, msgspec.DecodeError):
            raise Unauthorized() from None
        now = time.time()
        # As PyJWT's own checks, with no leeway: expired at `exp`, not valid before `iat`.
        if payload.exp <= now or payload.iat > now:
            raise Unauthorized()
        if payload.role == "customer" and payload.table is not None and payload.diner is not None:
            return CustomerClaims(
                session_id=payload.sub,
                branch_id=payload.branch,
                table_id=payload.table,
                diner_id=payload.diner,
                expires_at=payload.exp,
            )
        if payload.role in STAFF_ROLES:
            return StaffClaims(
                staff_id=payload.sub,
                role=payload.role,
                branch_id=payload.branch,
                expires_at=payload.exp,
                jti=payload.jti,
                version=payload.ver,
            )
        raise Unauthorized()
