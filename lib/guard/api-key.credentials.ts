import { ApiKeyConflictException } from '../api-key.exceptions.js';

/** Where in the request a key was found. */
export type ApiKeySource = 'header' | 'bearer' | 'cookie' | 'query';

/** A key as presented by the client, before it is verified. */
export interface PresentedApiKey {
  /** Where it was found. */
  readonly source: ApiKeySource;
  /** The key, with only the whitespace HTTP allows around a header value removed. */
  readonly value: string;
}

/** The parts of Node's `IncomingMessage` the credential reader needs. */
export interface RawHttpRequest {
  readonly headers: Record<string, string | string[] | undefined>;
  readonly headersDistinct?: Record<string, string[] | undefined>;
  readonly rawHeaders?: readonly string[];
  readonly url?: string;
  readonly originalUrl?: string;
}

/** The enabled sources, as {@link ResolvedApiKeyOptions} holds them. */
export interface ApiKeySourceSettings {
  readonly header: string | null;
  readonly bearer: boolean;
  readonly cookie: string | null;
  readonly query: string | null;
}

// Visible ASCII except space, '"', ',', ';' and '\', which cannot appear unquoted in every source.
const KEY_CHARACTERS = /^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]+$/;
const BEARER = /^bearer[ \t]+(.+)$/is;

/**
 * Whether `key` could be a key at all: 1 to `maxLength` visible ASCII characters, none of
 * them a space, quote, comma, semicolon or backslash. Checked before any hashing or lookup.
 */
export function isWellFormedKey(key: string, maxLength: number): boolean {
  return key.length > 0 && key.length <= maxLength && KEY_CHARACTERS.test(key);
}

/**
 * Reads the one credential a request carries from the enabled sources.
 * Returns `null` when there is none (absent, empty or whitespace-only values count as none).
 * The same key found several times (in two sources, as generated clients and Swagger UI send it
 * when an operation lists both schemes, or repeated) is one credential, named by the first
 * source that holds it (header, bearer, cookie, query). Throws {@link ApiKeyConflictException}
 * when the request carries two different keys; they are never tried one by one.
 */
export function readPresentedKey(request: RawHttpRequest, sources: ApiKeySourceSettings): PresentedApiKey | null {
  let found: PresentedApiKey | null = null;
  if (sources.header) found = take(found, 'header', headerValues(request, lowerCaseName(sources.header)));
  if (sources.bearer) found = take(found, 'bearer', bearerValues(request));
  if (sources.cookie) found = take(found, 'cookie', cookieValues(request.headers.cookie, sources.cookie));
  if (sources.query) found = take(found, 'query', queryValues(request.originalUrl ?? request.url, sources.query));
  return found;
}

/** Adds the non-empty `values` of one source to what was `found`; throws on a different second key. */
function take(found: PresentedApiKey | null, source: ApiKeySource, values: readonly string[]): PresentedApiKey | null {
  for (const raw of values) {
    const value = trimOws(raw);
    if (value === '') continue;
    if (!found) found = { source, value };
    else if (found.value !== value) throw new ApiKeyConflictException();
  }
  return found;
}

/**
 * `value` without the spaces and tabs around it, in one pass each way. (A regular expression
 * such as `/[ \t]+$/` retries at every space of an inner run: quadratic in the run's length.)
 */
function trimOws(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && isOws(value.charCodeAt(start))) start++;
  while (end > start && isOws(value.charCodeAt(end - 1))) end--;
  return start === 0 && end === value.length ? value : value.slice(start, end);
}

function isOws(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

let headerName = '';
let headerKey = '';

/** The configured header name in lower case (as Node keys `headers`), computed once per name. */
function lowerCaseName(name: string): string {
  if (name !== headerName) {
    headerKey = name.toLowerCase();
    headerName = name;
  }
  return headerKey;
}

function headerValues(request: RawHttpRequest, name: string): readonly string[] {
  const value = request.headers[name];
  if (value === undefined) return [];
  // Node joins a repeated header into "a, b"; only then is the slower distinct view needed.
  if (typeof value === 'string' && !value.includes(',')) return [value];
  return (
    request.headersDistinct?.[name] ?? rawValues(request.rawHeaders, name) ?? (Array.isArray(value) ? value : [value])
  );
}

/** Every value of header `name` in Node's `rawHeaders` (HTTP/2 requests have no `headersDistinct`). */
function rawValues(rawHeaders: readonly string[] | undefined, name: string): string[] | undefined {
  if (!rawHeaders) return undefined;
  const values: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2)
    if (rawHeaders[i]!.toLowerCase() === name) values.push(rawHeaders[i + 1]!);
  return values;
}

function bearerValues(request: RawHttpRequest): readonly string[] {
  const header = request.headers.authorization;
  if (header === undefined) return [];
  // Node keeps only the first Authorization header; the distinct view shows every one. A message's
  // headers (NATS, RabbitMQ) hold each value of a repeated one.
  const values =
    request.headersDistinct?.authorization ??
    rawValues(request.rawHeaders, 'authorization') ??
    (Array.isArray(header) ? header : [header]);
  const keys: string[] = [];
  for (const value of values) {
    const match = BEARER.exec(trimOws(value));
    if (match) keys.push(match[1]!); // another scheme (Basic, ...) belongs to someone else
  }
  return keys;
}

function cookieValues(header: string | string[] | undefined, name: string): readonly string[] {
  if (header === undefined) return [];
  const values: string[] = [];
  for (const pair of (Array.isArray(header) ? header.join(';') : header).split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 0 || pair.slice(0, eq).trim() !== name) continue;
    const value = pair.slice(eq + 1).trim();
    values.push(value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value);
  }
  return values;
}

function queryValues(url: string | undefined, name: string): readonly string[] {
  const start = url?.indexOf('?') ?? -1;
  if (start < 0) return [];
  return new URLSearchParams(url!.slice(start + 1)).getAll(name);
}
