import { Injectable, Optional, type OnModuleDestroy } from '@nestjs/common';
import { ResolvedApiKeyOptions } from '../../resolved-api-key.options.js';
import { ApiKeyAuthenticator } from '../../verification/api-key.authenticator.js';
import { ApiKeyChanges } from '../../verification/api-key.changes.js';
import { ApiKeyGuardHook } from '../api-key-guard.hook.js';
import { OpenConnections, type ConnectionRefusal, type OpenConnection } from './open-connections.js';
import { admitConnection, handshakeRequest, rememberWebSocketHandshake, type WebSocketHandshake } from './ws.js';

/** Options of {@link ApiKeyWebSockets.socketIo} and {@link ApiKeyWebSockets.ws}. */
export interface ApiKeyWebSocketOptions {
  /**
   * Milliseconds between two verifications of every open connection's key (default 30 000; a
   * positive integer, or the call throws `ApiKeyConfigurationError`; one interval per
   * application). A change to a key made through `ApiKeyService`, or heard from the store's change
   * feed, re-checks its connections at once; this interval bounds the others.
   */
  readonly recheckIntervalMs?: number;
}

/** A socket.io server socket, as far as it is used here. */
interface SocketIoSocket {
  readonly handshake: object;
  /** The underlying Engine.IO connection (shared by the sockets of its namespaces). */
  readonly conn: {
    readonly readyState: string;
    once(event: 'close', listener: () => void): unknown;
    off(event: 'close', listener: () => void): unknown;
  };
  emit(event: string, data: unknown): unknown;
  disconnect(close: boolean): unknown;
  once(event: 'disconnect', listener: () => void): unknown;
}

/** A native `ws` socket, as far as it is used here. */
interface NativeSocket {
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  close(code: number, reason: string): void;
  once(event: 'close', listener: () => void): unknown;
}

/** A native socket's `readyState` once it is closing. */
const CLOSING = 2;

/** socket.io's error for a refused connection: the client's `connect_error` receives `message` and `data`. */
export interface ApiKeyConnectError extends Error {
  /** The HTTP error body with our stable `code`, and `status: 'error'`. */
  readonly data: { readonly status: 'error'; readonly statusCode: number; readonly code: string };
}

/**
 * Verifies a WebSocket connection's key at its handshake, for gateways that serve keyed clients
 * only: a connection without a valid key is refused before any message. Admission is the guard's
 * (the module's sources, verification, the key's restrictions, the `ApiKeyGuardHook`: the rate
 * limiter counts the connection as one request). An admitted connection's messages reuse its
 * principal instead of verifying the key again, until the key changes: a change made through
 * `ApiKeyService`, or heard from the store's change feed, verifies its connections again at once,
 * and every connection is verified again every `recheckIntervalMs` (expiry needs none: a
 * principal is not reused past it). A connection whose key is no longer valid is closed.
 *
 * - socket.io: `server.use(webSockets.socketIo())` in the gateway's `afterInit`; a refusal reaches
 *   the client as `connect_error` whose `data` is the error body ({@link ApiKeyConnectError}).
 * - ws: `return verify(client, request)` in `handleConnection`, with `verify = webSockets.ws()`;
 *   a refused connection is closed with {@link ApiKeySubscriptionCloseCode} and the code as reason.
 *
 * `ApiKeyGuard` on the gateway's handlers still applies scopes, `@Public()` and, per message,
 * the rate limiter. See docs/websockets.md.
 */
@Injectable()
export class ApiKeyWebSockets implements OnModuleDestroy {
  private readonly connections: OpenConnections;

  constructor(
    private readonly options: ResolvedApiKeyOptions,
    authenticator: ApiKeyAuthenticator,
    @Optional() changes?: ApiKeyChanges,
    @Optional() hook?: ApiKeyGuardHook,
  ) {
    this.connections = new OpenConnections(ApiKeyWebSockets, options, authenticator, changes, hook);
  }

  /** A socket.io middleware (`server.use(...)`, or a namespace's) that admits connections by their handshake's key. */
  socketIo(options: ApiKeyWebSocketOptions = {}): (socket: SocketIoSocket, next: (error?: Error) => void) => void {
    this.connections.configure(options.recheckIntervalMs);
    return (socket, next) => {
      const close = ({ body }: ConnectionRefusal) => {
        socket.emit('exception', { status: 'error', ...body });
        socket.disconnect(true);
      };
      this.admit(socket, close).then(
        (untrack) => {
          // A client gone during the verification (or a later middleware) never connects, so its
          // socket never disconnects: its connection's close forgets it, or did already.
          if (socket.conn.readyState !== 'open') untrack();
          else {
            const forget = () => {
              socket.conn.off('close', forget); // shared with the client's other namespaces
              untrack();
            };
            socket.once('disconnect', forget);
            socket.conn.once('close', forget);
          }
          next();
        },
        (refusal: ConnectionRefusal) => {
          const error = new Error(refusal.body.message) as Error & { data: ApiKeyConnectError['data'] };
          error.data = { status: 'error', ...refusal.body };
          next(error);
        },
      );
    };
  }

  /**
   * The check for a ws-adapter gateway's `handleConnection(client, request)`: resolves to `true`
   * once the connection is admitted, to `false` once it is closed with the refusal's close code
   * (or when the client left during the verification).
   * It also records the handshake for `ApiKeyGuard` (as {@link rememberWebSocketHandshake}).
   */
  ws(options: ApiKeyWebSocketOptions = {}): (client: NativeSocket, request: WebSocketHandshake) => Promise<boolean> {
    this.connections.configure(options.recheckIntervalMs);
    return async (client, request) => {
      rememberWebSocketHandshake(client, request);
      const close = ({ body, closeCode }: ConnectionRefusal) => client.close(closeCode, body.code);
      try {
        const untrack = await this.admit(client, close);
        if (client.readyState >= CLOSING) {
          untrack(); // it closed during the verification
          return false;
        }
        client.once('close', untrack);
        return true;
      } catch (refusal) {
        close(refusal as ConnectionRefusal);
        return false;
      }
    };
  }

  /** Stops re-checking (the application is shutting down). */
  onModuleDestroy(): void {
    this.connections.stop();
  }

  /**
   * Admits `client` by its handshake and tracks it: resolves to the function that forgets it (call
   * it once it closed), or rejects with the refusal.
   */
  private async admit(client: object, close: (refusal: ConnectionRefusal) => void): Promise<() => void> {
    const request = handshakeRequest(client, this.options);
    let connection: OpenConnection;
    try {
      const { key, principal, address, origin } = await this.connections.admit(request, client, this.admit);
      connection = {
        key,
        principal,
        stale: false,
        address,
        origin,
        close: (refusal) => {
          admitConnection(client, null);
          close(refusal);
        },
        refreshed: () => admitConnection(client, connection),
      };
    } catch (error) {
      throw this.connections.refusalOf(error);
    }
    admitConnection(client, connection);
    const untrack = this.connections.track(connection);
    return () => {
      admitConnection(client, null);
      untrack();
    };
  }
}
