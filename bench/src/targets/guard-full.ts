import { Injectable } from '@nestjs/common';
import { EventEmitterModule, OnEvent } from '@nestjs/event-emitter';
import { InMemoryApiKeyRepository, type ApiKeyAuthenticatedEvent } from 'nestjs-api-key';
import { guardedModule } from '../guarded-app.js';
import type { BenchKeySet } from '../keys.js';
import type { BenchTarget } from '../target.js';

/** What an application listening to authentications does: something cheap. */
@Injectable()
class AuthenticatedListener {
  count = 0;

  @OnEvent('api-key.authenticated')
  onAuthenticated(event: ApiKeyAuthenticatedEvent): void {
    if (event.keyId) this.count++;
  }
}

/**
 * Every feature on, in-memory store: scopes, `@ApiKey()` principal, an `api-key.authenticated`
 * event per request through the default sink (to the app's EventEmitter2, one listener), and
 * last-used tracking into the store.
 */
const target: BenchTarget = {
  name: 'guard-full',
  description: 'guard-memory with every feature on: an event per request through the default sink (EventEmitter2, one listener), last-used tracking into the store',
  module: (keys: BenchKeySet) => {
    const module = guardedModule({ repository: new InMemoryApiKeyRepository(keys.records) });
    return { ...module, imports: [...module.imports!, EventEmitterModule.forRoot()], providers: [...module.providers!, AuthenticatedListener] };
  },
};
export default target;
