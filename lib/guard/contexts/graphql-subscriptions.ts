import { HttpException, Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import type { ApiKeyPrincipal } from '../../api-key-principal.interface.js';
import { ApiKeyConfigurationError } from '../../api-key-configuration.error.js';
import {
  ApiKeyErrorCode,
  ApiKeyInvalidException,
  ApiKeyMissingException,
  ApiKeyRestrictedException,
} from '../../api-key.exceptions.js';
import { ResolvedApiKeyOptions } from '../../resolved-api-key.options.js';
import { ApiKeyAuthenticator } from '../../verification/api-key.authenticator.js';
import { readPresentedKey, type RawHttpRequest } from '../api-key.credentials.js';
import { attachPrincipal } from '../api-key.request.js';
import { clientIpOf } from '../client-address.js';

/** How often an open connection's key is verified again by default: the bound on closing a revoked key's connection. */
export const DEFAULT_SUBSCRIPTION_RECHECK_MS = 30_000;

/** Options of {@link ApiKeySubscriptions.graphqlWs} and {@link ApiKeySubscriptions.mercurius}. */
export interface ApiKeySubscriptionOptions {
  /**
   * Milliseconds between two verifications of an open connection's key (default 30 000; a positive
   * integer, or the call throws `ApiKeyConfigurationError`; one interval per application). A key
   * revoked, disabled or expired meanwhile has its connection closed (code 4401) at the next one;
   * with a key cache, add its TTL to the bound.
   */
  readonly recheckIntervalMs?: number;
}

/**
 * WebSocket close codes of a refused or ended connection (graphql-ws's own where it has one);
 * the close reason is the refusal's stable code (`API_KEY_MISSING`, ...).
 */
export const ApiKeySubscriptionCloseCode = {
  /** 400: more than one key. */
  BadRequest: 4400,
  /** 401: no key, an invalid key, or a key that stopped being valid while connected. */
  Unauthorized: 4401,
  /** 403: a key used from outside its allowed networks or origins (`API_KEY_RESTRICTED`). */
  Forbidden: 4403,
  /** 503: the key store failed (standard "try again later"). */
  TryAgainLater: 1013,
} as const;

const CLOSE_CODES: Readonly<Record<number, number>> = {
  400: ApiKeySubscriptionCloseCode.BadRequest,
  401: ApiKeySubscriptionCloseCode.Unauthorized,
  403: ApiKeySubscriptionCloseCode.Forbidden,
  503: ApiKeySubscriptionCloseCode.TryAgainLater,
};

/** A WebSocket as both drivers hand it over (the `ws` package's). */
interface ClosableSocket {
  close(code?: number, reason?: string): void;
}

/**
 * The request of a subscription's connection, as the guard reads it from the GraphQL context's
 * `req`: the handshake's headers and URL, plus the connection_init payload's headers, with the
 * principal the connection authenticated with attached (`apiKey`).
 */
interface ConnectionRequest extends RawHttpRequest {
  readonly url: string | undefined;
}

interface OpenConnection {
  readonly key: string;
  readonly close: (code: number, reason: string) => void;
}

/**
 * Authenticates GraphQL subscriptions over `graphql-ws` once per connection and closes the
 * connections of keys that stop being valid. The key comes from the connection_init payload
 * (`{ 'x-api-key': key }`, or those headers under `headers`, as HTTP headers of the configured
 * sources) or from the handshake's headers; presenting it in both, or two keys, is refused.
 * A key's `allowedNetworks` and `allowedOrigins` are checked against the handshake's peer address
 * and `Origin` header. A refused connection is closed with {@link ApiKeySubscriptionCloseCode} and the stable code as
 * reason; an admitted one carries its principal, so `ApiKeyGuard` on a subscription resolver only
 * checks its scopes and `@ApiKey()` reads it. Every open connection's key is verified again every
 * `recheckIntervalMs`; one no longer valid has its connection closed (4401, `API_KEY_INVALID`).
 * A store failure during a re-check leaves connections open until the next one.
 *
 * Wire it into the driver's options: `subscriptions: { 'graphql-ws': subscriptions.graphqlWs() }`
 * for Apollo, `subscription: subscriptions.mercurius()` for Mercurius (see docs/graphql.md).
 */
@Injectable()
export class ApiKeySubscriptions implements OnModuleDestroy {
  private readonly open = new Set<OpenConnection>();
  /** The open connection of each admitted connection's request. */
  private readonly connections = new WeakMap<object, OpenConnection>();
  private timer: NodeJS.Timeout | undefined;
  private intervalMs = DEFAULT_SUBSCRIPTION_RECHECK_MS;
  private checking = false;

  constructor(
    private readonly options: ResolvedApiKeyOptions,
    private readonly authenticator: ApiKeyAuthenticator,
  ) {}

  /** Options for Apollo's `subscriptions['graphql-ws']` (graphql-ws `useServer` hooks). */
  graphqlWs(options: ApiKeySubscriptionOptions = {}) {
    this.configure(options);
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
    this.configure(options);
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
    clearInterval(this.timer);
    this.timer = undefined;
    this.open.clear();
  }

  /**
   * Authenticates a connection: its request with the principal attached, and its registration
   * for re-checks; or `undefined` once the socket is closed with the refusal's code.
   */
  private async connect(
    payload: unknown,
    handshake: IncomingMessage | undefined,
    socket: ClosableSocket | undefined,
  ): Promise<ConnectionRequest | undefined> {
    const request = connectionRequest(payload, handshake);
    try {
      const presented = readPresentedKey(request, this.options);
      if (!presented) throw new ApiKeyMissingException('');
      const verification = await this.authenticator.verify(presented.value);
      if (!verification.valid) throw new ApiKeyInvalidException('');
      // The handshake's peer and Origin (a browser sets it), never the payload's, which the page writes.
      const origin = handshake?.headers.origin;
      const restricted = this.authenticator.checkRestrictions(
        verification.principal,
        handshake && clientIpOf(handshake),
        origin,
      );
      if (restricted) throw new ApiKeyRestrictedException(restricted);
      attachPrincipal(request, verification.principal as ApiKeyPrincipal, this.options.userProperty);
      const connection: OpenConnection = {
        key: presented.value,
        close: (code, reason) => socket?.close(code, reason),
      };
      this.connections.set(request, connection);
      this.track(connection);
      return request;
    } catch (error) {
      if (!(error instanceof HttpException)) throw error;
      const code = (error.getResponse() as { code?: string }).code ?? ApiKeyErrorCode.Unavailable;
      socket?.close(CLOSE_CODES[error.getStatus()] ?? ApiKeySubscriptionCloseCode.TryAgainLater, code);
      return undefined;
    }
  }

  /** Stops re-checking a connection that closed. */
  private disconnect(request: object | undefined): void {
    const connection = request && this.connections.get(request);
    if (connection) this.open.delete(connection);
  }

  private configure({ recheckIntervalMs = DEFAULT_SUBSCRIPTION_RECHECK_MS }: ApiKeySubscriptionOptions): void {
    if (!Number.isInteger(recheckIntervalMs) || recheckIntervalMs < 1) {
      const given =
        typeof recheckIntervalMs === 'string' ? JSON.stringify(recheckIntervalMs) : String(recheckIntervalMs);
      throw new ApiKeyConfigurationError(
        `ApiKeySubscriptions: recheckIntervalMs must be a positive integer (milliseconds), got ${given}`,
      );
    }
    this.intervalMs = recheckIntervalMs;
  }

  private track(connection: OpenConnection): void {
    this.open.add(connection);
    if (this.timer) return;
    this.timer = setInterval(() => void this.recheck(), this.intervalMs);
    this.timer.unref();
  }

  /** Verifies every open connection's key again; closes those no longer valid. One pass at a time. */
  private async recheck(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      await this.recheckAll();
    } finally {
      this.checking = false;
    }
  }

  private async recheckAll(): Promise<void> {
    for (const connection of this.open) {
      let valid: boolean;
      try {
        valid = (await this.authenticator.verify(connection.key)).valid;
      } catch {
        continue; // the store failed: the next re-check decides
      }
      if (valid) continue;
      this.open.delete(connection);
      connection.close(ApiKeySubscriptionCloseCode.Unauthorized, ApiKeyErrorCode.Invalid);
    }
    if (this.open.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
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
 * header the payload carries added to them (so a key in both is two keys), and the handshake's URL.
 */
function connectionRequest(payload: unknown, handshake: IncomingMessage | undefined): ConnectionRequest {
  const headers: Record<string, string | string[] | undefined> = { ...handshake?.headers };
  const headersDistinct: Record<string, string[] | undefined> = { ...handshake?.headersDistinct };
  const carried = (payload as { headers?: unknown } | null | undefined)?.headers ?? payload;
  if (typeof carried === 'object' && carried !== null) {
    for (const [name, value] of Object.entries(carried)) {
      if (typeof value !== 'string') continue;
      const lower = name.toLowerCase();
      headersDistinct[lower] = [...(headersDistinct[lower] ?? []), value];
      headers[lower] = headersDistinct[lower].join(', ');
    }
  }
  return { headers, headersDistinct, url: handshake?.url };
}
