import { Injectable, Optional, type OnModuleDestroy } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import type { ApiKeyPrincipal } from '../../api-key-principal.interface.js';
import { ResolvedApiKeyOptions } from '../../resolved-api-key.options.js';
import { ApiKeyAuthenticator } from '../../verification/api-key.authenticator.js';
import { ApiKeyChanges } from '../../verification/api-key.changes.js';
import { ApiKeyGuardHook } from '../api-key-guard.hook.js';
import type { RawHttpRequest } from '../api-key.credentials.js';
import { attachPrincipal } from '../api-key.request.js';
import { carriedStrings } from './message-request.js';
import { OpenConnections, type ConnectionRefusal, type OpenConnection } from './open-connections.js';

export { ApiKeySubscriptionCloseCode } from './open-connections.js';

/** Options of {@link ApiKeySubscriptions.graphqlWs} and {@link ApiKeySubscriptions.mercurius}. */
export interface ApiKeySubscriptionOptions {
  /**
   * Milliseconds between two verifications of every open connection's key (default 30 000; a
   * positive integer, or the call throws `ApiKeyConfigurationError`; one interval per
   * application). A change to a key made through `ApiKeyService`, or heard from the store's change
   * feed, re-checks its connections at once; this interval bounds the others (a change made on
   * another instance without a change feed, with a key cache: plus its TTL).
   */
  readonly recheckIntervalMs?: number;
}

/** The open connection each admitted connection's request stands for (see {@link awaitsRecheck}). */
const connectionsByRequest = new WeakMap<object, OpenConnection>();

/**
 * Whether `request` is the request of a subscription connection whose key changed and has not
 * been verified again since: the principal it carries may be outdated (revoked, a scope removed),
 * so the guard verifies the key again instead of reusing it.
 */
export function awaitsRecheck(request: object): boolean {
  return connectionsByRequest.get(request)?.stale === true;
}

/** A WebSocket as both drivers hand it over (the `ws` package's). */
interface ClosableSocket {
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState?: number;
  close(code?: number, reason?: string): void;
}

/** A socket's `readyState` once it is closing. */
const CLOSING = 2;

/**
 * The request of a subscription's connection, as the guard reads it from the GraphQL context's
 * `req`: the handshake's headers, URL and peer address, plus the connection_init payload's
 * headers, with the principal the connection authenticated with attached (`apiKey`).
 */
interface ConnectionRequest extends RawHttpRequest {
  readonly headers: Record<string, string | string[] | undefined>;
  readonly url: string | undefined;
  readonly ip: string | undefined;
}

/**
 * Authenticates GraphQL subscriptions over `graphql-ws` once per connection and closes the
 * connections of keys that stop being valid. The key comes from the connection_init payload
 * (`{ 'x-api-key': key }`, or those headers under `headers`, as HTTP headers of the configured
 * sources) or from the handshake's headers; presenting it in both, or two keys, is refused.
 * Admission is the guard's: verification, the key's restrictions, and the `ApiKeyGuardHook` (the
 * rate limiter counts one request per connection).
 * A refused connection is closed with {@link ApiKeySubscriptionCloseCode} and the stable code as
 * reason; an admitted one carries its principal, so `ApiKeyGuard` on a subscription resolver only
 * checks its scopes and `@ApiKey()` reads it. A change to a connection's key (through
 * `ApiKeyService`, or heard from the store's change feed) verifies it again at once, and every
 * open connection's key is verified again every `recheckIntervalMs`; one no longer valid has its
 * connection closed (4401, `API_KEY_INVALID`). A store failure during a re-check leaves
 * connections open until the next one.
 *
 * Wire it into the driver's options: `subscriptions: { 'graphql-ws': subscriptions.graphqlWs() }`
 * for Apollo, `subscription: subscriptions.mercurius()` for Mercurius (see docs/graphql.md).
 */
@Injectable()
export class ApiKeySubscriptions implements OnModuleDestroy {
  private readonly connections: OpenConnections;
  /** How to stop re-checking each admitted connection's request, once it closes. */
  private readonly untrack = new WeakMap<object, () => void>();

  constructor(
    private readonly options: ResolvedApiKeyOptions,
    authenticator: ApiKeyAuthenticator,
    @Optional() changes?: ApiKeyChanges,
    @Optional() hook?: ApiKeyGuardHook,
  ) {
    this.connections = new OpenConnections(ApiKeySubscriptions, options, authenticator, changes, hook);
  }

  /** Options for Apollo's `subscriptions['graphql-ws']` (graphql-ws `useServer` hooks). */
  graphqlWs(options: ApiKeySubscriptionOptions = {}) {
    this.connections.configure(options.recheckIntervalMs);
    return {
      onConnect: async (ctx: GraphqlWsContext): Promise<boolean> => {
        const extra = ctx.extra as GraphqlWsExtra | undefined;
        const request = await this.connect(ctx.connectionParams, extra?.request, extra?.socket);
        // Nest's Apollo driver makes the graphql-ws context's `req` the GraphQL context's `req`.
        if (request) ctx.req = request;
        return request !== undefined;
      },
      onClose: (ctx: GraphqlWsContext): void => this.disconnect(ctx.req),
    };
  }

  /**
   * Options for Mercurius's `subscription`. Its `onConnect` reads the handshake and the socket
   * from the Mercurius connection it is called on (its `this`); the admitted connection's request
   * becomes the subscription context's `req`.
   */
  mercurius(options: ApiKeySubscriptionOptions = {}) {
    this.connections.configure(options.recheckIntervalMs);
    const connect = (payload: unknown, connection: MercuriusConnection | undefined) =>
      this.connect(payload, connection?.context?.request?.raw, connection?.socket);
    return {
      async onConnect(this: MercuriusConnection | undefined, data: { payload?: unknown }) {
        const request = await connect(data.payload, this);
        return request ? { req: request } : false;
      },
      onDisconnect: (context: object): void => this.disconnect((context as { req?: object }).req),
    };
  }

  /** Stops re-checking (the application is shutting down). */
  onModuleDestroy(): void {
    this.connections.stop();
  }

  /**
   * Authenticates a connection: its request with the principal attached, and its registration
   * for re-checks; or `undefined` once the socket is closed with the refusal's code (or when the
   * client left during the verification).
   */
  private async connect(
    payload: unknown,
    handshake: IncomingMessage | undefined,
    socket: ClosableSocket | undefined,
  ): Promise<ConnectionRequest | undefined> {
    const request = connectionRequest(payload, handshake);
    const close = ({ body, closeCode }: ConnectionRefusal) => socket?.close(closeCode, body.code);
    try {
      const { key, principal, address, origin } = await this.connections.admit(
        request,
        socket ?? request,
        this.connect,
      );
      // A client gone during the verification: the driver's close hook ran before it had the request.
      if ((socket?.readyState ?? 0) >= CLOSING) return undefined;
      const attach = (current: ApiKeyPrincipal) => attachPrincipal(request, current, this.options.userProperty);
      attach(principal);
      const connection: OpenConnection = { key, principal, stale: false, address, origin, close, refreshed: attach };
      connectionsByRequest.set(request, connection);
      this.untrack.set(request, this.connections.track(connection));
      return request;
    } catch (error) {
      close(this.connections.refusalOf(error));
      return undefined;
    }
  }

  /** Stops re-checking a connection that closed. */
  private disconnect(request: object | undefined): void {
    if (request) this.untrack.get(request)?.();
  }
}

/** The graphql-ws connection context, as far as it is read here. */
interface GraphqlWsContext {
  readonly connectionParams?: Readonly<Record<string, unknown>>;
  /** `graphql-ws/use/ws` puts the socket and the handshake's request here. */
  readonly extra: unknown;
  req?: object;
}

/** What `graphql-ws/use/ws` (the server Nest's Apollo driver runs) puts in a context's `extra`. */
interface GraphqlWsExtra {
  readonly socket?: ClosableSocket;
  readonly request?: IncomingMessage;
}

/** Mercurius's connection, the `this` of its `onConnect`, as far as it is read here. */
interface MercuriusConnection {
  readonly socket?: ClosableSocket;
  readonly context?: { readonly request?: { readonly raw?: IncomingMessage } };
}

/**
 * A request for the guard's key reading: the handshake's headers, each value of each credential
 * header the payload carries added to them (so a key in both is two keys), and the handshake's
 * URL and peer address.
 */
function connectionRequest(payload: unknown, handshake: IncomingMessage | undefined): ConnectionRequest {
  const headers: Record<string, string | string[] | undefined> = { ...handshake?.headers };
  const headersDistinct: Record<string, string[] | undefined> = { ...handshake?.headersDistinct };
  const carried = (payload as { headers?: unknown } | null | undefined)?.headers ?? payload;
  if (typeof carried === 'object' && carried !== null) {
    for (const [name, value] of Object.entries(carried)) {
      const values = carriedStrings(value); // an array of two keys is a conflict
      if (values.length === 0) continue;
      const lower = name.toLowerCase();
      headersDistinct[lower] = [...(headersDistinct[lower] ?? []), ...values];
      headers[lower] = headersDistinct[lower].join(', ');
    }
  }
  return { headers, headersDistinct, url: handshake?.url, ip: handshake?.socket?.remoteAddress };
}
