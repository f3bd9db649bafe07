import { describe, expect, it } from '@jest/globals';
import {
  ApiKeyConfigurationError,
  ApiKeyEventSink,
  createStandaloneApiKeyService,
  InMemoryApiKeyStore,
  type ApiKeyLifetimeOptions,
} from 'nestjs-api-key';
import { ManualClock } from '../support/clock.js';

const DAY = 86_400_000;

class NoEvents extends ApiKeyEventSink {
  emit(): void {}
}

function serviceWith(keyLifetime?: ApiKeyLifetimeOptions) {
  const clock = new ManualClock();
  const repository = new InMemoryApiKeyStore();
  const { service } = createStandaloneApiKeyService({ repository, events: new NoEvents(), clock, keyLifetime });
  return { service, clock, at: (days: number) => new Date(clock.now().getTime() + days * DAY) };
}

describe('the keyLifetime policy', () => {
  it('gives a key created without expiresAt the default lifetime, and refuses one past the maximum', async () => {
    const { service, at } = serviceWith({ maxMs: 366 * DAY, defaultMs: 90 * DAY });
    expect((await service.create({ name: 'default' })).apiKey.expiresAt).toEqual(at(90));
    expect((await service.create({ name: 'longest', expiresAt: at(366) })).apiKey.expiresAt).toEqual(at(366));
    const tooLong = service.create({ name: 'too long', expiresAt: new Date(at(366).getTime() + 1) });
    await expect(tooLong).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(tooLong).rejects.toThrow(
      `expiresAt must be at most 366 days from now (the maximum lifetime of a key), at the latest ${at(366).toISOString()}`,
    );
    const never = service.create({ name: 'never', expiresAt: null });
    await expect(never).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(never).rejects.toThrow('a key that never expires is not allowed');
    expect(await service.list()).toHaveLength(2);
  });

  it('uses the maximum as the default when only a maximum is set', async () => {
    const { service, at } = serviceWith({ maxMs: 30 * DAY });
    expect((await service.create({ name: 'max' })).apiKey.expiresAt).toEqual(at(30));
  });

  it('renews the key on rotation: the default lifetime from the rotation, or the expiry asked for', async () => {
    const { service, clock, at } = serviceWith({ maxMs: 366 * DAY, defaultMs: 90 * DAY });
    const { apiKey } = await service.create({ name: 'rotated' });
    clock.advance(80 * DAY);
    const rotated = await service.rotate(apiKey.id, { gracePeriodMs: 0 });
    expect(rotated.apiKey.expiresAt).toEqual(at(90));
    expect((await service.get(apiKey.id)).expiresAt).toEqual(at(90));
    expect((await service.verify(rotated.key)).valid).toBe(true);
    const chosen = await service.rotate(apiKey.id, { gracePeriodMs: 0, expiresAt: at(10) });
    expect(chosen.apiKey.expiresAt).toEqual(at(10));
    await expect(service.rotate(apiKey.id, { gracePeriodMs: 0, expiresAt: at(400) })).rejects.toMatchObject({
      code: 'invalid_input',
    });
    expect((await service.get(apiKey.id)).expiresAt).toEqual(at(10));
  });

  it('holds updates to the maximum, and leaves the expiry alone when an update does not set it', async () => {
    const { service, at } = serviceWith({ maxMs: 366 * DAY, defaultMs: 90 * DAY });
    const { apiKey } = await service.create({ name: 'updated' });
    await expect(service.update(apiKey.id, { expiresAt: null })).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(service.update(apiKey.id, { expiresAt: at(367) })).rejects.toMatchObject({ code: 'invalid_input' });
    expect((await service.update(apiKey.id, { name: 'renamed' })).expiresAt).toEqual(at(90));
    expect((await service.update(apiKey.id, { expiresAt: at(200) })).expiresAt).toEqual(at(200));
  });

  it('changes nothing without a policy: keys never expire by default and rotation keeps the expiry', async () => {
    const { service, at } = serviceWith();
    const { apiKey } = await service.create({ name: 'free' });
    expect(apiKey.expiresAt).toBeNull();
    expect((await service.rotate(apiKey.id, { gracePeriodMs: 0 })).apiKey.expiresAt).toBeNull();
    const dated = await service.create({ name: 'dated', expiresAt: at(1000) });
    expect((await service.rotate(dated.apiKey.id, { gracePeriodMs: 0 })).apiKey.expiresAt).toEqual(at(1000));
  });

  it.each<[unknown, string]>([
    [{ maxMs: 0 }, 'keyLifetime.maxMs must be a positive integer'],
    [{ defaultMs: 1.5 }, 'keyLifetime.defaultMs must be a positive integer'],
    [{ maxMs: DAY, defaultMs: 2 * DAY }, 'keyLifetime.defaultMs must be at most keyLifetime.maxMs'],
    [{ max: DAY }, 'keyLifetime.max'],
    [{ maxMs: 9e15 }, 'keyLifetime.maxMs must be at most'],
    ['366d', 'keyLifetime must be an object'],
  ])('refuses the option %j', (keyLifetime, message) => {
    expect(() => serviceWith(keyLifetime as ApiKeyLifetimeOptions)).toThrow(ApiKeyConfigurationError);
    expect(() => serviceWith(keyLifetime as ApiKeyLifetimeOptions)).toThrow(message);
  });
});
