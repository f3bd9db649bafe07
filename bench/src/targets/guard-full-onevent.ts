import { Injectable } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import { InMemoryApiKeyStore, type ApiKeyAuthenticatedEvent } from 'nestjs-api-key';
import { guardedModule, withEventEmitter } from '../guarded-app.js';
import type { BenchKeySet } from '../keys.js';
import type { BenchTarget } from '../target.js';

/** The same cheap listener as guard-full's, subscribed with `@OnEvent`. */
@Injectable()
class AuthenticatedListener {
  count = 0;

  @OnEvent('api-key.authenticated')
  onAuthenticated(event: ApiKeyAuthenticatedEvent): void {
    if (event.keyId) this.count++;
  }
}

/**
 * guard-full with its listener subscribed through `@OnEvent`: @nestjs/event-emitter calls such a
 * listener through an async wrapper (a promise per event), which the application pays per event.
 */
const target: BenchTarget = {
  name: 'guard-full-onevent',
  description:
    'guard-full with the listener subscribed with `@OnEvent` (@nestjs/event-emitter wraps each call in an async function)',
  module: (keys: BenchKeySet) =>
    withEventEmitter(guardedModule({ repository: new InMemoryApiKeyStore(keys.records) }), AuthenticatedListener),
};
export default target;
