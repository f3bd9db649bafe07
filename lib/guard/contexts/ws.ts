import type { ExecutionContext } from '@nestjs/common';
import type { ApiKeyPrincipal } from '../../api-key-principal.interface.js';
import type { ApiKeySourceSettings } from '../api-key.credentials.js';
import { carriedStrings, messageRequestOf, type MessageRequest } from './message-request.js';
import type { OpenConnection } from './open-connections.js';

/** The parts of an HTTP upgrade request (Node's `IncomingMessage`) the guard reads. */
export interface WebSocketHandshake {
  readonly headers: Record<string, string | string[] | undefined>;
  /** Every value of each header (Node joins a repeated header in `headers`, or keeps its first value). */
  readonly headersDistinct?: Record<string, string[] | undefined>;
  readonly url?: string;
  /** The connection's peer, for per-address rate limits. */
  readonly socket?: { readonly remoteAddress?: string };
}

/** A socket.io server socket, as far as the guard reads it. */
interface SocketIoSocket {
  readonly handshake: WebSocketHandshake & { readonly auth?: Record<string, unknown>; readonly address?: string };
  /** The handshake's HTTP request. */
  readonly request?: WebSocketHandshake;
}

/** The handshake each connection presented, read once per connection. */
const connections = new WeakMap<object, MessageRequest>();
/** The principal of each connection's last admitted message (`null`: admitted without a key). */
const principals = new WeakMap<object, ApiKeyPrincipal | null>();
/** The upgrade requests of native `ws` connections, as {@link rememberWebSocketHandshake} records them. */
const upgrades = new WeakMap<object, WebSocketHandshake>();
/** The connections `ApiKeyWebSockets` admitted at their handshake, while open. */
const admitted = new WeakMap<object, OpenConnection>();

/**
 * Records the upgrade request of a native `ws` connection (`@nestjs/platform-ws`), whose socket
 * does not keep it: call it from the gateway's `handleConnection(client, request)`. Without it
 * the guard finds no key on that connection's messages. A socket.io socket keeps its handshake
 * (and Nest passes no request with it): the call does nothing there, so one gateway serves both.
 *
 * @example
 * handleConnection(client: WebSocket, request: IncomingMessage) {
 *   rememberWebSocketHandshake(client, request);
 * }
 */
export function rememberWebSocketHandshake(client: object, request?: WebSocketHandshake): void {
  if (request?.headers) {
    const { headers, headersDistinct, url, socket } = request;
    upgrades.set(client, { headers, headersDistinct, url, socket: { remoteAddress: socket?.remoteAddress } });
  }
}

/**
 * The request the guard reads for one WebSocket message: the connection's handshake headers
 * (and its URL, for the query source), plus socket.io's `auth.apiKey` as one more value of the
 * header source. A message's own payload never carries the key.
 */
export function wsRequest(context: ExecutionContext, sources: ApiKeySourceSettings): MessageRequest {
  const client = context.switchToWs().getClient<object>();
  // The argument list: shared by the guards of one message (not by its parameter decorators).
  return messageRequestOf(context.getArgs(), () => {
    return new WsMessageRequest(client, handshakeRequest(client, sources));
  });
}

/**
 * The request a WebSocket connection's handshake stands for (headers, URL, peer address, and
 * socket.io's `auth.apiKey` as one more value of the header source), read once per connection.
 */
export function handshakeRequest(client: object, sources: ApiKeySourceSettings): MessageRequest {
  let connection = connections.get(client);
  if (!connection) connections.set(client, (connection = handshakeOf(client, sources)));
  return connection;
}

/**
 * Records a connection admitted at its handshake (`null`: it closed): its messages reuse its
 * principal, which `@ApiKey()` reads on `@Public()` handlers too.
 */
export function admitConnection(client: object, connection: OpenConnection | null): void {
  if (connection) {
    admitted.set(client, connection);
    principals.set(client, connection.principal);
  } else {
    admitted.delete(client);
    principals.delete(client);
  }
}

/**
 * The principal the connection of a WebSocket message was admitted with at its handshake (as a
 * re-check last refreshed it), while no change to its key awaits a re-check; `undefined` for
 * any other request. The guard reuses it instead of verifying the key again.
 */
export function admittedPrincipal(request: object): ApiKeyPrincipal | undefined {
  if (!(request instanceof WsMessageRequest)) return undefined;
  const connection = admitted.get(request.client);
  return connection && !connection.stale ? connection.principal : undefined;
}

/**
 * The principal of the connection's last admitted message (`@ApiKey()` in a gateway): `null`
 * when that message was admitted without a key, `undefined` before one was admitted and once the
 * connection's key was refused as invalid.
 */
export function connectionPrincipal(client: unknown): ApiKeyPrincipal | null | undefined {
  return typeof client === 'object' && client !== null ? principals.get(client) : undefined;
}

/** One message's request; the principal the guard attaches becomes the connection's. */
class WsMessageRequest implements MessageRequest {
  readonly headers: MessageRequest['headers'];
  readonly headersDistinct: MessageRequest['headersDistinct'];
  readonly url: string | undefined;
  readonly ip: string | undefined;
  private principal: ApiKeyPrincipal | null | undefined;

  constructor(
    readonly client: object,
    connection: MessageRequest,
  ) {
    this.headers = connection.headers;
    this.headersDistinct = connection.headersDistinct;
    this.url = connection.url;
    this.ip = connection.ip;
  }

  get apiKey(): ApiKeyPrincipal | null | undefined {
    return this.principal;
  }

  set apiKey(principal: ApiKeyPrincipal | null) {
    this.principal = principal;
    principals.set(this.client, principal);
  }
}

function handshakeOf(client: object, sources: ApiKeySourceSettings): MessageRequest {
  const handshake = (client as Partial<SocketIoSocket>).handshake ?? upgrades.get(client);
  if (!handshake?.headers) return { headers: {} };
  const { headers, url, auth, address } = handshake as SocketIoSocket['handshake'];
  const headersDistinct = (client as Partial<SocketIoSocket>).request?.headersDistinct ?? handshake.headersDistinct;
  const ip = address ?? handshake.socket?.remoteAddress;
  const authKeys = carriedStrings(auth?.apiKey); // an array of two keys is a conflict
  if (authKeys.length === 0 || !sources.header) return { headers, headersDistinct, url, ip };
  const name = sources.header.toLowerCase();
  const present = headersDistinct?.[name] ?? headers[name];
  const values = [...(present === undefined ? [] : Array.isArray(present) ? present : [present]), ...authKeys];
  return {
    headers: { ...headers, [name]: values },
    headersDistinct: headersDistinct && { ...headersDistinct, [name]: values },
    url,
    ip,
  };
}

type WsExceptionClass = new (error: string | object) => Error;
let wsException: Promise<WsExceptionClass> | undefined;

/**
 * The guard's refusal as a `WsException` whose error is the HTTP error body (`code` is our
 * stable code) with `status: 'error'`, which Nest's WebSocket exception filter sends to the
 * client as an `exception` event. A refusal of an invalid key (revoked, expired, disabled since
 * the handshake) also closes the connection once that event is sent: its key cannot change.
 */
export async function wsRefusal(error: unknown, context: ExecutionContext, body: object | undefined): Promise<unknown> {
  if (!body) return error;
  // Loaded here, not imported: the guard's module must load in apps without @nestjs/websockets.
  wsException ??= import('@nestjs/websockets').then((module) => module.WsException as WsExceptionClass);
  const refusal = new (await wsException)({ status: 'error', ...body });
  if ((body as { code?: string }).code === 'API_KEY_INVALID') {
    const client = context.switchToWs().getClient<object>();
    principals.delete(client);
    closeAfterReply(client);
  }
  return refusal;
}

function closeAfterReply(client: { disconnect?: (close: boolean) => void; close?: (code: number) => void }): void {
  // The exception filter sends the refusal synchronously after the guard's promise rejects.
  setImmediate(() => (client.disconnect ? client.disconnect(true) : client.close?.(1008)));
}
