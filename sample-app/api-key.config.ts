import { registerAs } from '@nestjs/config';
import type { ApiKeyModuleOptions } from 'nestjs-api-key';

/**
 * Demo keys for the sample app only, overridable through the environment. They are public
 * (they are in this file and the README): never reuse them, and never give a real
 * application default keys.
 */
export const DEMO_KEYS = {
  DEMO_READER_KEY: 'demo-reader-key-not-a-secret',
  DEMO_EDITOR_KEY: 'demo-editor-key-not-a-secret',
  DEMO_ADMIN_KEY: 'demo-admin-key-not-a-secret',
} as const;

const env = (name: keyof typeof DEMO_KEYS): string => process.env[name] ?? DEMO_KEYS[name];

const DAY_MS = 86_400_000;

/** The API key options, read from the environment through `@nestjs/config`. */
export const apiKeyConfig = registerAs('apiKey', (): ApiKeyModuleOptions => ({
  pepper: process.env.API_KEY_PEPPER ?? 'demo-pepper-change-me-in-production',
  sources: { header: 'X-API-Key', bearer: true },
  keyPrefix: 'sample_live',
  // Keys made through the admin API live 90 days unless asked otherwise, and never more than 366.
  keyLifetime: { maxMs: 366 * DAY_MS, defaultMs: 90 * DAY_MS },
  keys: [
    {
      name: 'reader',
      key: env('DEMO_READER_KEY'),
      scopes: ['catalogue:read'],
      ownerId: 'demo-user',
      metadata: { plan: 'free' },
    },
    {
      name: 'editor',
      key: env('DEMO_EDITOR_KEY'),
      scopes: ['catalogue:*'],
      ownerId: 'demo-user',
      metadata: { plan: 'pro' },
    },
    { name: 'admin', key: env('DEMO_ADMIN_KEY'), scopes: ['admin', 'catalogue:*'], ownerId: 'demo-ops' },
  ],
}));
