import type { ApiKeySourcesOptions } from 'nestjs-api-key';
import type { RawRequest } from './raw-http.js';

/** Every source enabled: the default `X-API-Key` header, bearer, and `api_key` cookie and query. */
export const EVERY_SOURCE: ApiKeySourcesOptions = { bearer: true, cookie: 'api_key', query: 'api_key' };

/** `WWW-Authenticate` of a 401 for a missing key, and for an invalid one, with {@link EVERY_SOURCE}. */
export const CHALLENGE = {
  missing: 'ApiKey realm="api", Bearer realm="api"',
  invalid: 'ApiKey realm="api", Bearer realm="api", error="invalid_token"',
};

/** How each source carries a value (raw: the value is written to the wire as given). */
export const sources = [
  { name: 'header', present: (path: string, value: string): RawRequest => ({ path, headers: [['X-API-Key', value]] }) },
  {
    name: 'bearer',
    present: (path: string, value: string): RawRequest => ({ path, headers: [['Authorization', `Bearer ${value}`]] }),
  },
  {
    name: 'cookie',
    present: (path: string, value: string): RawRequest => ({
      path,
      headers: [['Cookie', `theme=dark; api_key=${value}`]],
    }),
  },
  {
    name: 'query',
    present: (path: string, value: string): RawRequest => ({ path: `${path}?api_key=${encodeURIComponent(value)}` }),
  },
] as const;

/** One entry of {@link sources}. */
export type Source = (typeof sources)[number];
