"""JWTs for diners and staff: HS256 with the device's own secret, algorithm pinned on verify.

A token that verifies is not yet enough: `edge.auth` also checks the store on every use, so a
diner's token dies with its session and a removed staff member's token dies with them.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import jwt

from edge.errors import Unauthorized

ALGORITHM = "HS256"
STAFF_ROLES = ("manager", "waiter", "cashier", "kitchen")


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

    def __repr__(self) -> str:
        return f"TokenService(customer_ttl={self.customer_ttl}, staff_ttl={self.staff_ttl})"

    def _sign(self, claims: dict[str, object], ttl: int) -> str:
        now = int(time.time())
        return jwt.encode({**claims, "iat": now, "exp": now + ttl}, self._secret, ALGORITHM)

    def issue_customer(self, session_id: str, branch_id: str, table_id: str, diner_id: str) -> str:
        return self._sign(
            {
                "sub": session_id,
                "role": "customer",
                "branch": branch_id,
                "table": table_id,
                "diner": diner_id,
                "jti": str(uuid.uuid4()),
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
                "jti": str(uuid.uuid4()),
            },
            self.staff_ttl,
        )

    def decode(self, token: str) -> Claims:
        """Verify signature, algorithm and expiry; raise `Unauthorized` for anything else."""
        try:
            payload = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                options={"require": ["sub", "role", "branch", "exp", "iat"]},
            )
        except jwt.PyJWTError:
            raise Unauthorized() from None
        role = payload.get("role")
        try:
            if role == "customer":
                return CustomerClaims(
                    session_id=str(payload["sub"]),
                    branch_id=str(payload["branch"]),
                    table_id=str(payload["table"]),
                    diner_id=str(payload["diner"]),
                    expires_at=int(payload["exp"]),
                )
            if role in STAFF_ROLES:
                return StaffClaims(
                    staff_id=str(payload["sub"]),
                    role=str(role),
                    branch_id=str(payload["branch"]),
                    expires_at=int(payload["exp"]),
                    jti=str(payload.get("jti", "")),
                    version=int(payload.get("ver", 0)),
                )
        except (KeyError, TypeError, ValueError):
            pass
        raise Unauthorized()
