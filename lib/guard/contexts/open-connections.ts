import { HttpException, Logger, type ExecutionContext, type Type } from '@nestjs/common';
import type { ApiKeyPrincipal } from '../../api-key-principal.interface.js';
import { ApiKeyConfigurationError } from '../../api-key-configuration.error.js';
import {
  ApiKeyErrorCode,
  ApiKeyInvalidException,
  ApiKeyMissingException,
  ApiKeyRestrictedException,
} from '../../api-key.exceptions.js';
import { escapeForLog } from '../../log-escape.js';
import type { ResolvedApiKeyOptions } from '../../resolved-api-key.options.js';
import type { ApiKeyChanges } from '../../verification/api-key.changes.js';
import type { ApiKeyAuthenticator } from '../../verification/api-key.authenticator.js';
import type { ApiKeyVerification } from '../../verification/api-key-verification.interface.js';
import type { ApiKeyGuardHook } from '../api-key-guard.hook.js';
import { readPresentedKey } from '../api-key.credentials.js';
import { rawRequestOf } from '../api-key.request.js';
import { clientIpOf } from '../client-address.js';
import type { MessageRequest } from './message-request.js';

/** How often an open connection's key is verified again by default: the bound on closing a revoked key's connection. */
export const DEFAULT_RECHECK_INTERVAL_MS = 30_000;

/**
 * How many keys the re-checks of changes verify at once: a change to many keys (an owner's keys
 * revoked, a change feed's "anything may have changed") must not send a lookup per open
 * connection to the store at the same moment.
 */
const RECHECK_CONCURRENCY = 8;

/**
 * WebSocket close codes of a refused or ended connection (graphql-ws's own where it has one),
 * for GraphQL subscriptions and for connections of the ws adapter; the close reason is the
 * refusal's stable code (`API_KEY_MISSING`, ...).
 */
export const ApiKeySubscriptionCloseCode = {
  /** 400: more than one key. */
  BadRequest: 4400,
  /** 401: no key, an invalid key, or a key that stopped being valid while connected. */
  Unauthorized: 4401,
  /** 403: a key used from outside its allowed networks or origins (`API_KEY_RESTRICTED`). */
  Forbidden: 4403,
  /** 429: a rate limit of `nestjs-api-key/rate-limit` refused the connection. */
  TooManyRequests: 4429,
  /** 503: the key store (or the rate limiter's) failed (standard "try again later"). */
  TryAgainLater: 1013,
  /** An unexpected error while authenticating (standard "internal error"). */
  InternalError: 1011,
} as const;

const CLOSE_CODES: Readonly<Record<number, number>> = {
  400: ApiKeySubscriptionCloseCode.BadRequest,
  401: ApiKeySubscriptionCloseCode.Unauthorized,
  403: ApiKeySubscriptionCloseCode.Forbidden,
  429: ApiKeySubscriptionCloseCode.TooManyRequests,
  503: ApiKeySubscriptionCloseCode.TryAgainLater,
};

/** Why a connection is refused or closed: the HTTP error body (with our stable `code`) and its close code. */
export interface ConnectionRefusal {
  readonly body: { readonly statusCode: number; readonly code: string; readonly message: string };
  readonly closeCode: number;
}

/** A connection admitted with a key, verified again while it is open. */
export interface OpenConnection {
  /** The key it presented. */
  readonly key: string;
  /** The principal its key was last verified with. */
  principal: ApiKeyPrincipal;
  /** Set from a change to its key until that change's re-check is done: `principal` may be outdated meanwhile. */
  stale: boolean;
  /** The client address and `Origin` of its handshake, for the key's restrictions. */
  readonly address: string | undefined;
  readonly origin: string | undefined;
  /** Ends the connection with the refusal. */
  readonly close: (refusal: ConnectionRefusal) => void;
  /** Told the fresh principal of a re-check that found the key still valid (its scopes may have changed). */
  readonly refreshed?: (principal: ApiKeyPrincipal) => void;
}

/** A connection's key and principal, as {@link OpenConnections.admit} verified them. */
export interface AdmittedConnection {
  readonly key: string;
  readonly principal: ApiKeyPrincipal;
  readonly address: string | undefined;
  readonly origin: string | undefined;
}

/**
 * The open connections of one kind (WebSocket connections, GraphQL subscription connections):
 * admits a connection by its handshake's key, as `ApiKeyGuard` admits a request (sources,
 * verification, restrictions, the {@link ApiKeyGuardHook}: one rate-limit count per connection),
 * and keeps verifying the keys of the admitted ones: at once for a key {@link ApiKeyChanges}
 * reports changed (through `ApiKeyService` or the store's change feed: one lookup per key, a few
 * keys at a time), and every `recheckIntervalMs` for all. A connection whose key is no longer
 * valid, or no longer allowed from its address or origin, is closed; one whose key still is gets
 * the fresh principal (a scope change applies). A store failure during a re-check leaves
 * connections open until the next.
 */
export class OpenConnections {
  private readonly logger = new Logger('ApiKeyConnections');
  /** The open connections by key id. */
  private readonly byKey = new Map<string, Set<OpenConnection>>();
  private timer: NodeJS.Timeout | undefined;
  private intervalMs = DEFAULT_RECHECK_INTERVAL_MS;
  private checking = false;
  private unwatch: (() => void) | undefined;
  /** The connections whose key changed, by the key they presented, waiting for their re-check. */
  private readonly queued = new Map<string, Set<OpenConnection>>();
  /** How many keys of {@link queued} are being verified. */
  private running = 0;
  /**
   * How many changes to its key each connection has been told of: a re-check that began before the
   * last one is outdated.
   */
  private readonly changesSeen = new WeakMap<OpenConnection, number>();

  /**
   * @param kind the class that admits connections, named in configuration errors and given to the
   *   hook as the execution context's class (`ApiKeyWebSockets`, `ApiKeySubscriptions`)
   */
  constructor(
    private readonly kind: Type,
    private readonly options: ResolvedApiKeyOptions,
    private readonly authenticator: ApiKeyAuthenticator,
    private readonly changes: ApiKeyChanges | undefined,
    private readonly hook: ApiKeyGuardHook | undefined,
  ) {}

  /** Sets the re-check interval; throws `ApiKeyConfigurationError` unless it is a positive integer. */
  configure(recheckIntervalMs: number = DEFAULT_RECHECK_INTERVAL_MS): void {
    if (!Number.isInteger(recheckIntervalMs) || recheckIntervalMs < 1) {
      const given =
        typeof recheckIntervalMs === 'string' ? JSON.stringify(recheckIntervalMs) : String(recheckIntervalMs);
      throw new ApiKeyConfigurationError(
        `${this.kind.name}: recheckIntervalMs must be a positive integer (milliseconds), got ${given}`,
      );
    }
    this.intervalMs = recheckIntervalMs;
  }

  /**
   * Authenticates a connection by the key of its handshake `request`; throws the refusal (an
   * `HttpException` with our body: 400, 401, 403, 429, 503) as the guard would. `client` and
   * `handler` make the execution context the hook sees (type `ws`).
   */
  async admit(
    request: MessageRequest,
    client: object,
    handler: (...args: never[]) => unknown,
  ): Promise<AdmittedConnection> {
    const context = connectionContext(this.kind, handler, client, request);
    const address = clientIpOf(request);
    const origin = rawRequestOf(request).headers.origin as string | undefined;
    let key = '';
    const authenticate = async (): Promise<ApiKeyPrincipal> => {
      const presented = readPresentedKey(request, this.options);
      if (!presented) throw new ApiKeyMissingException('');
      key = presented.value;
      const verification = await this.authenticator.verify(key);
      if (!verification.valid) throw new ApiKeyInvalidException('');
      const reason = this.authenticator.checkRestrictions(verification.principal, address, origin);
      if (reason !== undefined) throw new ApiKeyRestrictedException(reason);
      return verification.principal;
    };
    const principal = this.hook ? await this.hook.authenticate(context, authenticate, request) : await authenticate();
    await this.hook?.authorized(context, principal, null);
    return { key, principal, address, origin };
  }

  /** The refusal an error of {@link admit} stands for (an unexpected error is logged and refused as internal). */
  refusalOf(error: unknown): ConnectionRefusal {
    if (error instanceof HttpException) {
      const response = error.getResponse();
      const body = (typeof response === 'object' ? response : { message: response }) as ConnectionRefusal['body'];
      const status = error.getStatus();
      return {
        body: { ...body, statusCode: status, code: body.code ?? ApiKeyErrorCode.Unavailable },
        closeCode: CLOSE_CODES[status] ?? ApiKeySubscriptionCloseCode.TryAgainLater,
      };
    }
    this.logger.error(
      `Authenticating a connection failed: ${escapeForLog(String((error as Error)?.message ?? error))}`,
    );
    return {
      body: { statusCode: 500, code: 'INTERNAL_ERROR', message: 'Internal server error' },
      closeCode: ApiKeySubscriptionCloseCode.InternalError,
    };
  }

  /** Keeps verifying an admitted connection's key until the returned function is called (it closed). */
  track(connection: OpenConnection): () => void {
    const id = connection.principal.id;
    let connections = this.byKey.get(id);
    if (!connections) this.byKey.set(id, (connections = new Set()));
    connections.add(connection);
    this.unwatch ??= this.changes?.watch((keyId) => this.recheck(keyId));
    this.timer ??= setInterval(() => void this.recheckAll(), this.intervalMs).unref();
    return () => this.forget(connection);
  }

  /** Stops re-checking and forgets every connection (the application is shutting down). */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.unwatch?.();
    this.unwatch = undefined;
    this.byKey.clear();
    this.queued.clear();
  }

  private forget(connection: OpenConnection): void {
    const waiting = this.queued.get(connection.key);
    if (waiting?.delete(connection) && waiting.size === 0) this.queued.delete(connection.key);
    const id = connection.principal.id;
    const connections = this.byKey.get(id);
    if (!connections?.delete(connection) || connections.size > 0) return;
    this.byKey.delete(id);
    if (this.byKey.size > 0) return;
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * Queues the connections of a changed key (`null`: of every key) for a re-check, marking them
   * stale until then; see {@link drain}.
   */
  private recheck(keyId: string | null): void {
    const connections =
      keyId === null ? [...this.byKey.values()].flatMap((set) => [...set]) : [...(this.byKey.get(keyId) ?? [])];
    for (const connection of connections) {
      connection.stale = true;
      this.changesSeen.set(connection, (this.changesSeen.get(connection) ?? 0) + 1);
      let waiting = this.queued.get(connection.key);
      if (!waiting) this.queued.set(connection.key, (waiting = new Set()));
      waiting.add(connection);
    }
    this.drain();
  }

  /**
   * Runs the queued re-checks: one verification per key for all its connections,
   * {@link RECHECK_CONCURRENCY} keys at a time.
   */
  private drain(): void {
    for (const [key, connections] of this.queued) {
      if (this.running >= RECHECK_CONCURRENCY) return;
      this.queued.delete(key);
      this.running++;
      void this.verifyAgain(key, [...connections]).finally(() => {
        this.running--;
        this.drain();
      });
    }
  }

  /** The periodic pass over every open connection; one at a time. */
  private async recheckAll(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      for (const connections of this.byKey.values())
        for (const connection of connections) await this.verifyAgain(connection.key, [connection]);
    } finally {
      this.checking = false;
    }
  }

  /** Verifies `key` once for the open `connections` that presented it, and decides each of them. */
  private async verifyAgain(key: string, connections: readonly OpenConnection[]): Promise<void> {
    const changes = connections.map((connection) => this.changesSeen.get(connection));
    let verification: ApiKeyVerification;
    try {
      verification = await this.authenticator.verify(key);
    } catch {
      return; // the store failed: the next re-check decides (a stale connection verifies each message meanwhile)
    }
    connections.forEach((connection, index) => {
      try {
        this.decide(connection, verification, changes[index]);
      } catch (error) {
        // An event sink or a socket that throws: the connection stays stale (its messages are
        // verified one by one) and the others are still decided.
        this.logger.error(`A re-check of an open connection failed: ${escapeForLog(String(error))}`);
      }
    });
  }

  /**
   * Closes the connection when its key is no longer valid or allowed; else refreshes its principal,
   * unless a change was told after the re-check began (`changes`: how many it had been told of then).
   */
  private decide(connection: OpenConnection, verification: ApiKeyVerification, changes: number | undefined): void {
    if (!this.byKey.get(connection.principal.id)?.has(connection)) return; // closed meanwhile
    let refusal: HttpException | undefined;
    if (!verification.valid) refusal = new ApiKeyInvalidException('');
    else {
      const reason = this.authenticator.checkRestrictions(
        verification.principal,
        connection.address,
        connection.origin,
      );
      if (reason !== undefined) refusal = new ApiKeyRestrictedException(reason);
    }
    if (refusal) {
      this.forget(connection);
      connection.close(this.refusalOf(refusal));
      return;
    }
    // A change told after this re-check began: the re-check it started decides.
    if (this.changesSeen.get(connection) !== changes) return;
    connection.principal = (verification as { principal: ApiKeyPrincipal }).principal;
    connection.stale = false;
    connection.refreshed?.(connection.principal);
  }
}

/**
 * The execution context of a connection being admitted, for the {@link ApiKeyGuardHook}: type
 * `ws`, the admitting class and method as class and handler (no route metadata: the rate
 * limiter applies its default cost and the key's plan), the client and the handshake as arguments.
 */
function connectionContext(
  kind: Type,
  handler: (...args: never[]) => unknown,
  client: object,
  request: MessageRequest,
): ExecutionContext {
  const args = [client, request];
  const unsupported = (): never => {
    throw new Error('a connection being admitted has no HTTP or RPC context');
  };
  return {
    getType: <T extends string>() => 'ws' as T,
    getClass: <T>() => kind as T,
    getHandler: () => handler as (...args: unknown[]) => unknown,
    getArgs: <T extends unknown[]>() => args as T,
    getArgByIndex: <T>(index: number) => args[index] as T,
    switchToHttp: unsupported,
    switchToRpc: unsupported,
    switchToWs: () => ({
      getClient: <T>() => client as T,
      getData: <T>() => request as T,
      getPattern: () => 'connection',
    }),
  };
}
