import { Injectable, type OnModuleInit } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { InMemoryApiKeyStore, type ApiKeyAuthenticatedEvent } from 'nestjs-api-key';
import { guardedModule, withEventEmitter } from '../guarded-app.js';
import type { BenchKeySet } from '../keys.js';
import type { BenchTarget } from '../target.js';

/** What an application listening to authentications does: something cheap, subscribed with `EventEmitter2.on`. */
@Injectable()
class AuthenticatedListener implements OnModuleInit {
  count = 0;

  constructor(private readonly emitter: EventEmitter2) {}

  onModuleInit(): void {
    this.emitter.on('api-key.authenticated', (event: ApiKeyAuthenticatedEvent) => {
      if (event.keyId) this.count++;
    });
  }
}

/**
 * Every feature on, in-memory store: scopes, `@ApiKey()` principal, an `api-key.authenticated`
 * event per request through the default sink (to the app's EventEmitter2, one listener), and
 * last-used tracking into the store.
 */
const target: BenchTarget = {
  name: 'guard-full',
  description:
    'guard-memory with every feature on: an event per request through the default sink (EventEmitter2, one listener subscribed with `on`), last-used tracking into the store',
  module: (keys: BenchKeySet) =>
    withEventEmitter(guardedModule({ repository: new InMemoryApiKeyStore(keys.records) }), AuthenticatedListener),
};
export default target;
