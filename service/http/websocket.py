"""GraphQL subscriptions over WebSocket at /graphql, with the graphql-transport-ws protocol (Strawberry's handler).

What Steward adds to Strawberry's protocol handler:
- Authentication in `connection_init`: payload `{"authorization": "Bearer stw_…"}` (any case of the key,
  as GraphiQL sends its header editor's headers) or `{"token": "stw_…"}`. A missing, unknown or revoked
  token closes with 4401 Unauthorized; a token without the `read` scope with 4403 Forbidden. The token is
  checked again at each keep-alive ping, so a revoked token's connection closes with 4401.
- Origin: a browser's handshake must come from the same origin or one listed in STEWARD_CORS_ORIGINS
  (else HTTP 403). Tokens travel in `connection_init`, never in cookies, so a hostile page cannot ride a
  user's session (cross-site WebSocket hijacking needs ambient credentials); the check keeps it that way.
- Only subscriptions run here (queries and mutations: POST /graphql), each held to the HTTP limits
  (tokens, depth, aliases, cost, validation, trusted documents) before it starts; refused ones get an
  `error` message with the same codes as over HTTP. At most STEWARD_MAX_SUBSCRIPTIONS_PER_CONNECTION per
  connection and STEWARD_MAX_SUBSCRIPTIONS_PER_TOKEN per token in this process (TOO_MANY_SUBSCRIPTIONS).
- `connection_init` must come within STEWARD_WS_INIT_TIMEOUT_MS (else 4408); the server pings every
  STEWARD_WS_PING_INTERVAL_MS; a client that does not take a message within STEWARD_WS_SEND_TIMEOUT_MS
  loses its subscription (SLOW_CONSUMER), so it never holds a database connection.
- Errors are shaped and masked as over HTTP (service/http/errors.py); the token, the rate limit, the
  document's checks and the scope rule are those of HTTP (service/http/edge.py, operation.py).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import asyncpg
from graphql import GraphQLError, GraphQLFormattedError, OperationType
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler, Operation
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    ErrorMessage,
    Message,
    NextMessagePayload,
    SubscribeMessage,
)
from strawberry.types import ExecutionResult
from strawberry.utils.aio import aclosing

from schema.context import Context, Db
from service.auth import Principal, bearer
from service.config import Settings
from service.db import pool as db
from service.events.hub import EventHub, Subscriber
from service.http import edge, scopes
from service.http.errors import RequestError, format_error, rejected
from service.http.operation import Operation as GraphQLOperation
from service.http.operation import allowed, check, read

log = logging.getLogger("steward.ws")


@dataclass
class Live:
    """The runtime side of `Context.live` (schema/context.py's Live): a subscription's announcements of its
    organization (the event hub, waiting at most the request timeout), and a transaction to read them."""

    pool: asyncpg.Pool
    hub: EventHub
    settings: Settings

    def subscribe(self, org_id: int, kinds: frozenset[str]) -> AbstractAsyncContextManager[Subscriber]:
        return self.hub.subscribe(org_id, kinds, self.settings.request_timeout_s)

    def org_transaction(self, org_id: int) -> AbstractAsyncContextManager[asyncpg.Connection]:
        return db.org_transaction(self.pool, org_id, self.settings.statement_timeout_ms)


@dataclass
class TokenCounts:
    """Open subscriptions per token in this process (each replica counts its own)."""

    counts: dict[int, int] = field(default_factory=dict)

    def take(self, token_id: int, limit: int) -> bool:
        if self.counts.get(token_id, 0) >= limit:
            return False
        self.counts[token_id] = self.counts.get(token_id, 0) + 1
        return True

    def give_back(self, token_id: int) -> None:
        left = self.counts.get(token_id, 1) - 1
        if left > 0:
            self.counts[token_id] = left
        else:
            self.counts.pop(token_id, None)


@dataclass
class Connection:
    """One WebSocket connection's state; each subscription gets a Context of its own."""

    websocket: WebSocket
    settings: Settings
    request_id: str
    principal: Principal | None = None
    token: str | None = None
    connection_params: dict[str, Any] = field(default_factory=dict)


class SlowConsumer(Exception):
    """The client did not take a message in time."""


def token_of(payload: dict[str, Any]) -> str | None:
    """The token of a connection_init payload: `authorization: Bearer …` (any case of the key) or `token`."""
    for key, value in payload.items():
        if isinstance(key, str) and key.lower() == "authorization" and isinstance(value, str):
            return bearer(value)
    token = payload.get("token")
    return token.strip() if isinstance(token, str) and token.strip() else None


def error_message(operation_id: str, errors: list[GraphQLFormattedError]) -> ErrorMessage:
    return {"id": operation_id, "type": "error", "payload": errors}


class StewardOperation(Operation[Connection, None]):
    """Strawberry's operation, with errors formatted (and masked) as over HTTP."""

    __slots__ = ()

    async def send_initial_errors(self, errors: list[GraphQLError]) -> None:
        request_id = self.handler.context.request_id
        await self.send_operation_message(error_message(self.id, [format_error(e, request_id) for e in errors]))

    async def send_next(self, execution_result: ExecutionResult) -> None:
        payload: NextMessagePayload = {"data": execution_result.data}
        if execution_result.errors:
            request_id = self.handler.context.request_id
            payload["errors"] = [format_error(e, request_id) for e in execution_result.errors]
        await self.send_operation_message({"id": self.id, "type": "next", "payload": payload})


class Handler(BaseGraphQLTransportWSHandler[Connection, None]):
    """graphql-transport-ws, authenticated in connection_init, limited, pinged."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.app_state = self.context.websocket.app.state
        self.settings: Settings = self.app_state.settings
        self.pinger: asyncio.Task | None = None

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        if self.connection_timed_out:
            return
        if self.connection_init_timeout_task:
            self.connection_init_timeout_task.cancel()
        payload = message.get("payload") or {}
        if not isinstance(payload, dict):
            await self.websocket.close(4400, "Invalid connection init payload")
            return
        if self.connection_init_received:
            await self.websocket.close(4429, "Too many initialisation requests")
            return
        self.connection_init_received = True
        token = token_of(payload)
        if token is None:
            await self.websocket.close(4401, "Unauthorized: send connection_init with payload "
                                             '{"authorization": "Bearer <token>"}')
            return
        try:
            principal = await edge.principal_of(self.app_state, token)
        except Exception as exc:
            if (refusal := edge.refusal(exc)) is None:
                raise
            if refusal.status == 401:
                await self.websocket.close(4401, "Unauthorized: the token is unknown or revoked")
            else:  # 1013 Try Again Later: graphql-ws clients retry it (4xxx codes they do not)
                await self.websocket.close(1013, "the database is unavailable; retry shortly")
            return
        if not scopes.may_subscribe(principal):
            await self.websocket.close(4403, f"Forbidden: subscriptions need the {scopes.READ!r} scope")
            return
        self.context.principal, self.context.token = principal, token
        self.context.connection_params = payload
        await self.send_message({"type": "connection_ack"})
        self.connection_acknowledged = True
        self.pinger = asyncio.create_task(self.keep_alive())

    @property
    def principal(self) -> Principal:
        """The connection's principal, set before connection_ack (so before any subscribe is accepted)."""
        if self.context.principal is None:
            raise RuntimeError("the connection is not authenticated yet")
        return self.context.principal

    @property
    def token(self) -> str:
        """The connection's token, set with its principal."""
        if self.context.token is None:
            raise RuntimeError("the connection is not authenticated yet")
        return self.context.token

    async def keep_alive(self) -> None:
        """Ping every interval (graphql-ws clients answer with pong); close when the token was revoked."""
        with contextlib.suppress(SlowConsumer, WebSocketDisconnected, RuntimeError):
            await self._keep_alive()

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(self.settings.ws_ping_interval_s)
            try:
                await edge.check_token(self.app_state, self.token)
            except RequestError:
                await self.websocket.close(4401, "Unauthorized: the token was revoked")
                return
            except Exception as exc:  # the database is away: keep the connection, check next time
                log.warning("could not re-check a subscriber's token: %s", type(exc).__name__)
            await self.send_message({"type": "ping"})

    async def shutdown(self) -> None:
        if self.pinger is not None:
            self.pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.pinger
        await super().shutdown()

    async def send_message(self, message: Message) -> None:
        try:
            async with asyncio.timeout(self.settings.ws_send_timeout_s):
                await self.websocket.send_json(message)
        except TimeoutError:
            # (the server's WebSocket ping timeout then closes a connection that stays stuck)
            raise SlowConsumer(f"the client did not take a message within {self.settings.ws_send_timeout_s:g}s"
                               ) from None

    async def handle_message(self, message: Message) -> None:
        try:
            await super().handle_message(message)
        except SlowConsumer:
            raise WebSocketDisconnected from None  # the client is not reading: end the connection

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        if not self.connection_acknowledged:
            await self.websocket.close(4401, "Unauthorized")
            return
        # the message is the client's JSON, not yet checked against SubscribeMessage
        operation_id: object = message.get("id")
        payload: object = message.get("payload")
        if not isinstance(operation_id, str) or not isinstance(payload, dict):
            await self.websocket.close(4400, "subscribe needs a string `id` and an object `payload`")
            return
        if operation_id in self.operations:
            await self.websocket.close(4409, f"Subscriber for {operation_id} already exists")
            return
        settings = self.settings
        try:
            operation = await self.checked(payload)
            # a subscribe counts as a request against the token's rate
            await edge.rate_limited(self.app_state, self.token)
            if len(self.operations) >= settings.max_subscriptions_per_connection:
                raise rejected("TOO_MANY_SUBSCRIPTIONS", "a connection may hold "
                               f"{settings.max_subscriptions_per_connection} subscriptions",
                               limit=settings.max_subscriptions_per_connection)
            if not self.app_state.subscription_counts.take(self.principal.token_id,
                                                           settings.max_subscriptions_per_token):
                raise rejected("TOO_MANY_SUBSCRIPTIONS", f"a token may hold {settings.max_subscriptions_per_token} "
                               "subscriptions on this server", limit=settings.max_subscriptions_per_token)
        except RequestError as exc:
            await self.send_message(error_message(operation_id, exc.errors))
            return
        running = StewardOperation(self, operation_id, operation.query, operation.variables, operation.operation_name)
        self.operations[operation_id] = running
        running.task = asyncio.create_task(self.run_operation(running))
        running.task.add_done_callback(self._task_done)

    async def checked(self, payload: dict) -> GraphQLOperation:
        """The subscription to run, after the same checks as over HTTP; RequestError if it may not run."""
        operation = await read(self.app_state, payload)
        selected = check(self.app_state, operation)
        if selected.operation is not OperationType.SUBSCRIPTION:
            raise rejected("OPERATION_NOT_SUPPORTED", "only subscriptions run over WebSocket; "
                           "send queries and mutations with POST /graphql")
        allowed(operation, selected, self.principal)
        return operation

    async def run_operation(self, operation: Operation[Connection, None]) -> None:
        """One subscription with a Context of its own, counted against its token until it ends."""
        principal = self.principal
        context = Context(db=Db(None), principal=principal, settings=self.settings,
                          request_id=self.context.request_id,
                          live=self.app_state.live)
        try:
            stream = await self.schema.stream(operation.query, variable_values=operation.variables,
                                              context_value=context, operation_name=operation.operation_name)
            async with aclosing(stream):
                await self._send_result_stream(operation, stream)
            await operation.send_operation_message({"id": operation.id, "type": "complete"})
        except SlowConsumer as exc:
            log.warning("dropped a subscription of token %s: %s", principal.token_id, exc)
            self.operations.pop(operation.id, None)
        except WebSocketDisconnected:  # the client left while an event was on its way
            self.operations.pop(operation.id, None)
        except Exception:  # a bug: end this subscription, keep the connection
            log.exception("subscription %s failed", operation.id)
            self.operations.pop(operation.id, None)
            with contextlib.suppress(Exception):
                await self.send_message({"id": operation.id, "type": "complete"})
        finally:
            self.app_state.subscription_counts.give_back(principal.token_id)


class GraphQLWebSocket(GraphQL[Connection, None]):
    """Strawberry's ASGI view, for WebSocket handshakes only, speaking graphql-transport-ws only."""

    graphql_transport_ws_handler_class = Handler

    def __init__(self, schema, settings: Settings):
        super().__init__(schema, graphql_ide=None, subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
                         connection_init_wait_timeout=timedelta(seconds=settings.ws_init_timeout_s),
                         max_subscriptions_per_connection=None, allowed_origins=settings.cors_origins)

    # this view serves WebSocket handshakes only (graphql_websocket), never an HTTP request: hence the
    # narrower argument types than GraphQL.get_context's (Request | WebSocket, Response | WebSocket)
    async def get_context(self, request: WebSocket, response: WebSocket) -> Connection:  # type: ignore[override]
        return Connection(request, request.app.state.settings, uuid.uuid4().hex)


async def graphql_websocket(websocket: WebSocket) -> None:
    """WebSocket /graphql."""
    await websocket.app.state.graphql_ws.run(websocket)
