"""The API's one error hierarchy and the one place that turns any failure into the envelope.

Domain code raises these; `render_error` (registered as Sanic's error handler) writes
`{"success": false, "error": {"code", "message", "details"?}}`. Messages are Spanish because
diners and staff read them.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from sanic import Request
from sanic.exceptions import SanicException
from sanic.response import HTTPResponse, json

from edge.write_health import is_storage_full

log = logging.getLogger("restai_edge.errors")

# On every API answer, failures included: browsers must not guess another type for it, and
# nothing on the way (a shared phone's browser cache, a proxy) may keep one, since answers carry
# tokens, names and phone numbers.
API_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
# Seconds a client waits before trying a write again on a full disk; the device itself checks
# for freed space every few seconds (edge.maintenance).
STORAGE_FULL_RETRY_AFTER = 30


class ApiError(Exception):
    status: ClassVar[int] = 400
    code: ClassVar[str] = "BAD_REQUEST"
    message: ClassVar[str] = "Solicitud invalida"

    def __init__(
        self,
        message: str | None = None,
        *,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.text = message or self.message
        self.details = details
        self.headers = headers or {}
        super().__init__(self.text)

    def envelope(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.text}
        if self.details is not None:
            error["details"] = self.details
        return {"success": False, "error": error}


class BadRequest(ApiError):
    pass


class ValidationError(ApiError):
    code = "VALIDATION_ERROR"
    message = "Datos invalidos"


class PayloadTooLarge(ApiError):
    status = 413
    code = "PAYLOAD_TOO_LARGE"
    message = "La solicitud es demasiado grande"


class Unauthorized(ApiError):
    status = 401
    code = "UNAUTHORIZED"
    message = "Token invalido"


class TokenRequired(Unauthorized):
    message = "Token requerido"


class InvalidCredentials(ApiError):
    status = 401
    code = "INVALID_CREDENTIALS"
    message = "PIN incorrecto"


class Forbidden(ApiError):
    status = 403
    code = "FORBIDDEN"
    message = "No tienes permiso para realizar esta accion"


class SessionEnded(ApiError):
    status = 403
    code = "SESSION_ENDED"
    message = "Tu sesion ha finalizado"


class TableKeyRequired(ApiError):
    status = 403
    code = "TABLE_KEY_REQUIRED"
    message = "Escanea el codigo QR de tu mesa para unirte"


class SessionNotActive(ApiError):
    status = 403
    code = "SESSION_NOT_ACTIVE"
    message = "Tu sesion aun no ha sido aprobada"


class NotFound(ApiError):
    status = 404
    code = "NOT_FOUND"
    message = "Recurso no encontrado"


class BranchNotFound(NotFound):
    message = "Sucursal no encontrada"


class TableNotFound(NotFound):
    message = "Mesa no encontrada"


class SessionNotFound(NotFound):
    message = "Sesion no encontrada"


class MethodNotAllowed(ApiError):
    status = 405
    code = "METHOD_NOT_ALLOWED"
    message = "Metodo no permitido"


class Conflict(ApiError):
    status = 409
    code = "CONFLICT"
    message = "La operacion no es posible en el estado actual"


class SessionPending(Conflict):
    code = "SESSION_PENDING"
    message = "Esta mesa esta en espera de aprobacion"


class TableAlreadyActive(Conflict):
    code = "TABLE_ALREADY_ACTIVE"
    message = "La mesa ya tiene una sesion activa"


class InvalidSessionState(Conflict):
    code = "INVALID_SESSION_STATE"
    message = "La sesion no esta en un estado que permita esta accion"


class SessionHasOpenOrders(Conflict):
    code = "SESSION_HAS_OPEN_ORDERS"
    message = "La mesa tiene pedidos en curso"


class InvalidTransition(Conflict):
    code = "INVALID_TRANSITION"
    message = "Ese cambio de estado no esta permitido"


class OrderNotCancellable(Conflict):
    code = "ORDER_NOT_CANCELLABLE"
    message = "El pedido ya esta en preparacion"


class ItemUnavailable(Conflict):
    code = "ITEM_UNAVAILABLE"
    message = "Producto agotado"


class SessionExpired(ApiError):
    status = 410
    code = "SESSION_EXPIRED"
    message = "La solicitud de mesa ha expirado"


class RateLimited(ApiError):
    status = 429
    code = "RATE_LIMITED"
    message = "Demasiadas solicitudes, intenta mas tarde"

    def __init__(self, retry_after: int, *, details: Any = None) -> None:
        super().__init__(details=details, headers={"Retry-After": str(max(1, retry_after))})


class StorageFull(ApiError):
    """The disk is full: nothing can be saved until space is freed (edge.write_health)."""

    status = 503
    code = "STORAGE_FULL"
    message = "El dispositivo no tiene espacio para guardar, intenta en unos minutos"

    def __init__(self) -> None:
        super().__init__(headers={"Retry-After": str(STORAGE_FULL_RETRY_AFTER)})


class InternalError(ApiError):
    status = 500
    code = "INTERNAL_ERROR"
    message = "Error interno del servidor"


_SANIC_STATUS_TO_ERROR: dict[int, type[ApiError]] = {
    400: BadRequest,
    404: NotFound,
    405: MethodNotAllowed,
    413: PayloadTooLarge,
}


def as_api_error(exc: BaseException) -> ApiError:
    """Map anything raised while handling a request to the error the client will see."""
    if isinstance(exc, ApiError):
        return exc
    if is_storage_full(exc):
        return StorageFull()
    if isinstance(exc, SanicException):
        return _SANIC_STATUS_TO_ERROR.get(exc.status_code, BadRequest)()
    return InternalError()


def render_error(request: Request, exc: Exception) -> HTTPResponse:
    error = as_api_error(exc)
    if isinstance(error, InternalError) and error is not exc:
        log.error("Unhandled error on %s %s", request.method, request.path, exc_info=exc)
    return json(error.envelope(), status=error.status, headers={**API_HEADERS, **error.headers})
