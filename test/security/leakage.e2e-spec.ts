import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Catch, Controller, Get, Injectable, Req, UseGuards, type ArgumentsHost } from '@nestjs/common';
import { APP_FILTER, BaseExceptionFilter } from '@nestjs/core';
import { EventEmitterModule, OnEvent } from '@nestjs/event-emitter';
import {
  ApiKeyClock,
  ApiKeyFormat,
  ApiKeyGuard,
  ApiKeyHasher,
  ApiKeyModule,
  ApiKeyService,
  InMemoryApiKeyStore,
  type ApiKeyEvent,
  type ApiKeyRecord,
} from 'nestjs-api-key';
import { ManualClock } from '../support/clock.js';
import { platforms } from '../support/platforms.js';
import { FaultRepository } from '../support/fault-repository.js';
import { LeakRecorder } from '../support/leak-recorder.js';
import { send } from '../support/raw-http.js';
import { startSecurityApp, type SecurityApp } from '../support/security-app.js';
import { EVERY_SOURCE, sources } from '../support/sources.js';

const leaks = new LeakRecorder();
const hasher = new ApiKeyHasher();
const HOUR = 3_600_000;
const key = (state: string) => `leak-${state}-key-of-valid-shape-000001`;
const STATES: Record<string, () => Partial<ApiKeyRecord>> = {
  active: () => ({}),
  revoked: () => ({ revokedAt: new Date(Date.now() - HOUR) }),
  expired: () => ({ expiresAt: new Date(Date.now() - HOUR) }),
  disabled: () => ({ disabled: true }),
  rotatedout: () => ({ secretExpiresAt: new Date(Date.now() - HOUR) }),
};

/** Records every exception the app sees (message, response, stack) before Nest answers as usual. */
@Catch()
class RecordingFilter extends BaseExceptionFilter {
  override catch(exception: unknown, host: ArgumentsHost) {
    const error = exception as Error & { getResponse?: () => unknown };
    leaks.record([error.message, error.stack, error.getResponse?.()]);
    super.catch(exception, host);
  }
}

/** Shows what the guard put on the request. */
@Controller('principal')
@UseGuards(ApiKeyGuard)
class PrincipalController {
  @Get()
  get(@Req() request: { apiKey?: object }) {
    const principal = request.apiKey!;
    return {
      fields: Object.keys(principal).sort(),
      frozen: Object.isFrozen(principal),
      json: JSON.stringify(principal),
    };
  }
}

/** Feeds every event emitted on EventEmitter2 to the leak recorder, and keeps them for assertions. */
@Injectable()
class RecordingListener {
  static readonly events: ApiKeyEvent[] = [];
  @OnEvent('api-key.*')
  record(event: ApiKeyEvent) {
    RecordingListener.events.push(event);
    leaks.record([event]);
  }
}

describe.each(platforms)('leakage on $name', (platform) => {
  const repository = new FaultRepository();
  let server: SecurityApp;
  beforeAll(async () => {
    for (const [state, extra] of Object.entries(STATES))
      repository.save({ id: state, name: state, hash: hasher.hash(key(state)), scopes: [], ...extra() });
    server = await startSecurityApp(
      {
        imports: [ApiKeyModule.forRoot({ repository, sources: EVERY_SOURCE, lookupTimeoutMs: 200 })],
        controllers: [PrincipalController],
        providers: [{ provide: APP_FILTER, useClass: RecordingFilter }],
      },
      platform,
      leaks,
    );
  });
  afterAll(() => server.app.close());

  it.each(sources)(
    'makes unknown, revoked, expired, disabled, rotated-out and malformed keys indistinguishable in the $name source, while the Logger says why',
    async (source) => {
      leaks.logs.length = 0;
      const unknown = await send(server.port, source.present('/principal', key('unknown')));
      expect(unknown.status).toBe(401);
      for (const value of [
        key('revoked'),
        key('expired'),
        key('disabled'),
        key('rotatedout'),
        `${key('unknown')}\u00e9`,
        'k'.repeat(300),
      ]) {
        const res = await send(server.port, source.present('/principal', value));
        expect(res.head).toBe(unknown.head);
        expect(res.body).toBe(unknown.body);
      }
      // Without @nestjs/event-emitter the events go to Nest's Logger, which the recorder captures.
      expect(leaks.logs).toEqual(
        [
          'reason=not_found',
          'reason=revoked keyId=revoked',
          'reason=expired keyId=expired',
          'reason=disabled keyId=disabled',
          'reason=revoked keyId=rotatedout',
          'reason=malformed',
          'reason=malformed',
        ].map((reason) => `api-key.authentication-failed ${reason} ApiKeyEvents`),
      );
    },
  );

  it('puts on the request a frozen principal with identity, scopes and metadata only: never the key or its hash', async () => {
    const res = await send(server.port, { path: '/principal', headers: [['X-API-Key', key('active')]] });
    expect(res.status).toBe(200);
    const body = JSON.parse(res.body);
    expect(body.fields).toEqual(['id', 'metadata', 'name', 'ownerId', 'scopes']);
    expect(body.frozen).toBe(true);
    expect(body.json).not.toContain(hasher.hash(key('active')));
  });

  it('escapes CR/LF of a repository error in its single log line, and logs neither the key nor an injected line', async () => {
    repository.fault = () => Promise.reject(new Error('db said:\r\n[Nest] 1 - FAKE LOG ENTRY admin logged in'));
    leaks.logs.length = 0;
    expect((await send(server.port, { path: '/principal', headers: [['X-API-Key', key('active')]] })).status).toBe(503);
    repository.fault = undefined;
    expect(leaks.logs).toHaveLength(1);
    expect(leaks.logs[0]).toContain('db said:\\u000d\\u000a[Nest] 1 - FAKE LOG ENTRY');
    expect(leaks.logs[0]).not.toMatch(/[\r\n]/);
  });
});

describe.each(platforms)('events through EventEmitter2 on $name', (platform) => {
  const clock = new ManualClock();
  let server: SecurityApp;
  beforeAll(async () => {
    server = await startSecurityApp(
      {
        imports: [
          EventEmitterModule.forRoot({ wildcard: true }),
          ApiKeyModule.forRoot({ repository: new InMemoryApiKeyStore(), sources: EVERY_SOURCE }),
        ],
        controllers: [PrincipalController],
        providers: [RecordingListener],
      },
      platform,
      leaks,
      (builder) => builder.overrideProvider(ApiKeyClock).useValue(clock),
    );
  });
  afterAll(() => server.app.close());

  it.each(sources)(
    'carry the reason for unknown, revoked, expired, disabled and mistyped keys, answered alike in the $name source',
    async (source) => {
      const service = server.app.get(ApiKeyService);
      const expiry = new Date(clock.now().getTime() + 1_000);
      const [active, revoked, expired, disabled] = await Promise.all(
        ['active', 'revoked', 'expired', 'disabled'].map((name) =>
          service.create({ name, expiresAt: name === 'expired' ? expiry : null }),
        ),
      );
      await service.revoke(revoked!.apiKey.id);
      await service.disable(disabled!.apiKey.id);
      clock.set(expiry);
      const from = RecordingListener.events.length;
      expect((await send(server.port, source.present('/principal', active!.key))).status).toBe(200);
      const unknown = await send(server.port, source.present('/principal', new ApiKeyFormat().generate().key));
      expect(unknown.status).toBe(401);
      for (const value of [
        revoked!.key,
        expired!.key,
        disabled!.key,
        `${active!.key.slice(0, -1)}${active!.key.endsWith('a') ? 'b' : 'a'}`,
      ]) {
        const res = await send(server.port, source.present('/principal', value));
        expect([res.head, res.body]).toEqual([unknown.head, unknown.body]);
      }
      expect(
        RecordingListener.events.slice(from).map((e) => [e.type, 'reason' in e ? e.reason : null, e.keyId]),
      ).toEqual([
        ['api-key.authenticated', null, active!.apiKey.id],
        ['api-key.authentication-failed', 'not_found', null],
        ['api-key.authentication-failed', 'revoked', revoked!.apiKey.id],
        ['api-key.authentication-failed', 'expired', expired!.apiKey.id],
        ['api-key.authentication-failed', 'disabled', disabled!.apiKey.id],
        ['api-key.authentication-failed', 'malformed', null],
      ]);
    },
  );

  it('fed lifecycle and authentication events alike to the leak recorder', () => {
    const types = new Set(RecordingListener.events.map((e) => e.type));
    expect(types).toEqual(
      new Set([
        'api-key.created',
        'api-key.revoked',
        'api-key.disabled',
        'api-key.authenticated',
        'api-key.authentication-failed',
      ]),
    );
  });
});

leaks.expectNoLeaks();
