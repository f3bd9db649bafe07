import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { ApiKeyFailureReason } from './verification/api-key-verification.interface.js';
import { escapeForLog } from './log-escape.js';
import type { ApiKeyRestrictionReason } from './guard/api-key.restrictions.js';

/** Names of the events the library emits (the `type` of each {@link ApiKeyEvent}). */
export const ApiKeyEventType = {
  /** A presented key was valid. One per authenticated request: keep listeners cheap. */
  Authenticated: 'api-key.authenticated',
  /** A presented key was refused; `reason` says why, `keyId` is set when the key is known. */
  AuthenticationFailed: 'api-key.authentication-failed',
  Created: 'api-key.created',
  Updated: 'api-key.updated',
  Revoked: 'api-key.revoked',
  Disabled: 'api-key.disabled',
  Enabled: 'api-key.enabled',
  /** A key got a new secret; its previous secrets stop working at `previousSecretsExpireAt`. */
  Rotated: 'api-key.rotated',
  /** A key was reported leaked (by GitHub's secret scanning, through `nestjs-api-key/leaks`). */
  Leaked: 'api-key.leaked',
  /**
   * A key was used while it is about to stop working (a rotated-out secret in its grace period,
   * or a key within the `expiryWarnings` window of its expiry). Once per key and stop instant on
   * each instance, not per request.
   */
  Expiring: 'api-key.expiring',
  /** A valid key was refused by its restrictions (client network or origin); `reason` says which. */
  Restricted: 'api-key.restricted',
} as const;

/** A lifecycle change made through `ApiKeyService` (or the CLI). */
export interface ApiKeyLifecycleEvent {
  readonly type:
    | typeof ApiKeyEventType.Created
    | typeof ApiKeyEventType.Updated
    | typeof ApiKeyEventType.Revoked
    | typeof ApiKeyEventType.Disabled
    | typeof ApiKeyEventType.Enabled;
  readonly keyId: string;
  readonly at: Date;
}

/** A rotation: the key's new secret is valid now, the previous ones until `previousSecretsExpireAt`. */
export interface ApiKeyRotatedEvent {
  readonly type: typeof ApiKeyEventType.Rotated;
  readonly keyId: string;
  readonly at: Date;
  readonly previousSecretsExpireAt: Date;
}

/**
 * A key in use stops working soon (see `ApiKeyEventType.Expiring`): `reason` is `rotated` for a
 * rotated-out secret in its grace period, `expiring` for a key near its `expiresAt`.
 */
export interface ApiKeyExpiringEvent {
  readonly type: typeof ApiKeyEventType.Expiring;
  readonly keyId: string;
  readonly ownerId: string | null;
  readonly reason: 'rotated' | 'expiring';
  /** The instant the presented key stops working. */
  readonly stopsAt: Date;
  readonly at: Date;
}

/** A presented key was valid. */
export interface ApiKeyAuthenticatedEvent {
  readonly type: typeof ApiKeyEventType.Authenticated;
  readonly keyId: string;
  readonly at: Date;
}

/** A presented key was refused. Never carries the key, not even in part. */
export interface ApiKeyAuthenticationFailedEvent {
  readonly type: typeof ApiKeyEventType.AuthenticationFailed;
  readonly reason: ApiKeyFailureReason;
  /** The key's public id when the key was found (expired, revoked, disabled), else `null`. */
  readonly keyId: string | null;
  readonly at: Date;
}

/** What the leak receiver did to a key reported leaked. */
export type ApiKeyLeakAction = 'revoke' | 'disable' | 'notify';

/**
 * A key was reported leaked. Carries what an application needs to warn the key's owner and have
 * them rotate it; never the key, nor any part of its secret.
 */
export interface ApiKeyLeakedEvent {
  readonly type: typeof ApiKeyEventType.Leaked;
  readonly keyId: string;
  /** The key's name and owner, to notify them. */
  readonly name: string;
  readonly ownerId: string | null;
  /** Where the key was found (a public URL, possibly empty), as reported. */
  readonly url: string;
  /** What kind of place it was found in (`content`, `commit`, `issue_comment`...), as reported. */
  readonly source: string;
  /** The configured action. */
  readonly action: ApiKeyLeakAction;
  /**
   * Whether this report changed the key (revoked or disabled it). `false` for `notify`, and when
   * the key already was revoked (or disabled, for `disable`).
   */
  readonly applied: boolean;
  readonly at: Date;
}

/**
 * A valid key was used from outside its allowed networks (`reason: 'network'`) or from an origin
 * it is not allowed from (`'origin'`). `address` is the client address the guard resolved (through
 * the platform's trusted-proxy setting), `origin` the request's `Origin` header; both as the client
 * sent them, so escape them before logging.
 */
export interface ApiKeyRestrictedEvent {
  readonly type: typeof ApiKeyEventType.Restricted;
  readonly keyId: string;
  readonly reason: ApiKeyRestrictionReason;
  readonly address: string | null;
  readonly origin: string | null;
  readonly at: Date;
}

/** Every event the library emits. Events carry public ids and reasons, never a key or a hash. */
export type ApiKeyEvent =
  | ApiKeyLifecycleEvent
  | ApiKeyRotatedEvent
  | ApiKeyExpiringEvent
  | ApiKeyAuthenticatedEvent
  | ApiKeyAuthenticationFailedEvent
  | ApiKeyLeakedEvent
  | ApiKeyRestrictedEvent;

/**
 * Where events go, and its injection token. The default ({@link DefaultApiKeyEventSink})
 * publishes to `@nestjs/event-emitter` when the application uses it, and to Nest's `Logger`
 * otherwise. Provide your own with the module's `events` option (a class or an instance).
 * `emit` runs on the request path: return quickly and never throw.
 */
export abstract class ApiKeyEventSink {
  /**
   * Whether this sink wants `api-key.authenticated` events (one per authenticated request).
   * When `false`, the library does not even build them. Default `true`.
   */
  get acceptsAuthenticated(): boolean {
    return true;
  }

  /** Delivers one event. */
  abstract emit(event: ApiKeyEvent): void;
}

/** The part of `EventEmitter2` the default sink uses. */
interface EventEmitterLike {
  emit(event: string, ...values: unknown[]): unknown;
  hasListeners?(event: string): boolean;
  listenersAny?(): unknown[];
}

/**
 * The default sink. At module initialisation it looks for the application's `EventEmitter2`
 * (registered by `EventEmitterModule.forRoot()` from the optional `@nestjs/event-emitter`); when
 * found, every event is emitted there under its `type` (listen with `@OnEvent('api-key.*')`
 * given `wildcard: true`, or one name). Otherwise lifecycle events are logged at `log` level and
 * failed authentications at `warn` level through Nest's `Logger` (context `ApiKeyEvents`), with
 * attacker-influenced text escaped; successful authentications are not logged.
 */
@Injectable()
export class DefaultApiKeyEventSink extends ApiKeyEventSink implements OnModuleInit {
  private readonly logger = new Logger('ApiKeyEvents');
  private emitter: EventEmitterLike | null = null;

  constructor(private readonly moduleRef: ModuleRef) {
    super();
  }

  /** Resolves the application's `EventEmitter2`, if it has one. */
  async onModuleInit(): Promise<void> {
    this.emitter = await findEventEmitter(this.moduleRef);
  }

  /** Whether events go to `EventEmitter2` (`true`) or to the `Logger`. */
  get usesEventEmitter(): boolean {
    return this.emitter !== null;
  }

  /**
   * @inheritdoc Only with `EventEmitter2`, and only while something listens to
   * `api-key.authenticated` or to every event (`onAny`: with `wildcard: true`, `hasListeners`
   * does not count those). The `Logger` fallback does not log successes.
   */
  override get acceptsAuthenticated(): boolean {
    const emitter = this.emitter;
    return (
      emitter !== null &&
      (emitter.hasListeners?.(ApiKeyEventType.Authenticated) !== false || (emitter.listenersAny?.().length ?? 0) > 0)
    );
  }

  /** @inheritdoc */
  emit(event: ApiKeyEvent): void {
    if (this.emitter) {
      try {
        this.emitter.emit(event.type, event);
      } catch (error) {
        this.logger.error(
          `A listener of ${event.type} threw: ${escapeForLog(String((error as Error)?.message ?? error))}`,
        );
      }
      return;
    }
    if (event.type === ApiKeyEventType.Authenticated) return;
    if (event.type === ApiKeyEventType.AuthenticationFailed) {
      this.logger.warn(
        `${event.type} reason=${event.reason}${event.keyId === null ? '' : ` keyId=${escapeForLog(event.keyId, 100)}`}`,
      );
      return;
    }
    if (event.type === ApiKeyEventType.Leaked) {
      this.logger.warn(
        `${event.type} keyId=${escapeForLog(event.keyId, 100)} name=${escapeForLog(event.name, 100)} ` +
          `ownerId=${event.ownerId === null ? '-' : escapeForLog(event.ownerId, 100)} action=${event.action} ` +
          `applied=${event.applied} source=${escapeForLog(event.source, 40)} url=${escapeForLog(event.url, 300)}`,
      );
      return;
    }
    if (event.type === ApiKeyEventType.Restricted) {
      this.logger.warn(
        `${event.type} reason=${event.reason} keyId=${escapeForLog(event.keyId, 100)}` +
          ` address=${escapeForLog(event.address ?? '-', 60)} origin=${escapeForLog(event.origin ?? '-', 200)}`,
      );
      return;
    }
    const until =
      event.type === ApiKeyEventType.Rotated
        ? ` previousSecretsExpireAt=${event.previousSecretsExpireAt.toISOString()}`
        : event.type === ApiKeyEventType.Expiring
          ? ` reason=${event.reason} stopsAt=${event.stopsAt.toISOString()}`
          : '';
    this.logger.log(`${event.type} keyId=${escapeForLog(event.keyId, 100)}${until}`);
  }
}

async function findEventEmitter(moduleRef: ModuleRef): Promise<EventEmitterLike | null> {
  let token: unknown;
  try {
    // Optional peer: resolved at run time only, so apps without it never load it.
    token = (await import('@nestjs/event-emitter')).EventEmitter2;
  } catch {
    return null;
  }
  try {
    const emitter = moduleRef.get(token as never, { strict: false }) as EventEmitterLike | undefined;
    return typeof emitter?.emit === 'function' ? emitter : null;
  } catch {
    return null; // installed, but the application did not import EventEmitterModule
  }
}
