import { describe, expect, it } from '@jest/globals';
import {
  isWellFormedKey,
  readPresentedKey,
  type ApiKeySourceSettings,
  type RawHttpRequest,
} from './api-key.credentials.js';
import { ApiKeyConflictException } from '../api-key.exceptions.js';

const ALL: ApiKeySourceSettings = { header: 'X-API-Key', bearer: true, cookie: 'sid', query: 'key' };

function req(headers: Record<string, string | string[]>, url = '/'): RawHttpRequest {
  const distinct = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Array.isArray(v) ? v : [v]]));
  const joined = Object.fromEntries(
    Object.entries(headers).map(([k, v]) => [k, Array.isArray(v) ? (k === 'authorization' ? v[0] : v.join(', ')) : v]),
  );
  return { headers: joined, headersDistinct: distinct, url };
}

describe('readPresentedKey', () => {
  it('returns null when no enabled source carries a value', () => {
    expect(readPresentedKey(req({}), ALL)).toBeNull();
    expect(readPresentedKey(req({ 'x-api-key': ' \t ' }), ALL)).toBeNull();
  });

  it('names the source of the one key it finds', () => {
    expect(readPresentedKey(req({ 'x-api-key': 'k1' }), ALL)).toEqual({ source: 'header', value: 'k1' });
    expect(readPresentedKey(req({ authorization: 'bEaReR k2' }), ALL)).toEqual({ source: 'bearer', value: 'k2' });
    expect(readPresentedKey(req({ cookie: 'a=1; sid=k3' }), ALL)).toEqual({ source: 'cookie', value: 'k3' });
    expect(readPresentedKey(req({}, '/x?key=k4'), ALL)).toEqual({ source: 'query', value: 'k4' });
  });

  it("reads every value of a message's repeated header (an array, without Node's distinct view)", () => {
    const message = (headers: RawHttpRequest['headers']): RawHttpRequest => ({ headers });
    expect(() => readPresentedKey(message({ authorization: ['Bearer k1', 'Bearer k2'] }), ALL)).toThrow(
      ApiKeyConflictException,
    );
    expect(() => readPresentedKey(message({ 'x-api-key': ['k1', 'k2'] }), ALL)).toThrow(ApiKeyConflictException);
    expect(readPresentedKey(message({ authorization: ['Basic abc', 'Bearer k1'] }), ALL)).toEqual({
      source: 'bearer',
      value: 'k1',
    });
  });

  it('ignores a disabled source', () => {
    expect(readPresentedKey(req({}, '/x?key=k4'), { ...ALL, query: null })).toBeNull();
  });

  it('throws a conflict for two different keys', () => {
    expect(() => readPresentedKey(req({ 'x-api-key': ['k1', 'k2'] }), ALL)).toThrow(ApiKeyConflictException);
    expect(() => readPresentedKey(req({ 'x-api-key': 'k1' }, '/?key=k2'), ALL)).toThrow(ApiKeyConflictException);
    expect(() =>
      readPresentedKey(req({ 'x-api-key': 'k1', authorization: 'Bearer k1', cookie: 'sid=k2' }), ALL),
    ).toThrow(ApiKeyConflictException);
  });

  it('reads the same key found several times as one, named by the first source that holds it', () => {
    expect(readPresentedKey(req({ 'x-api-key': 'k1', authorization: 'Bearer k1' }), ALL)).toEqual({
      source: 'header',
      value: 'k1',
    });
    expect(readPresentedKey(req({ authorization: 'Bearer k1', cookie: 'sid=k1' }, '/?key=k1'), ALL)).toEqual({
      source: 'bearer',
      value: 'k1',
    });
    expect(readPresentedKey(req({ 'x-api-key': ['k1', ' k1 '] }), ALL)).toEqual({ source: 'header', value: 'k1' });
  });

  it('does not match cookie names by prefix', () => {
    expect(readPresentedKey(req({ cookie: 'xsid=k3' }), ALL)).toBeNull();
  });

  it('trims only the spaces and tabs around a value, in time linear in a run of inner spaces', () => {
    const run = ' '.repeat(1_000_000); // a backtracking trim would take minutes here
    expect(readPresentedKey(req({ authorization: `Bearer a${run}b \t` }), ALL)).toEqual({
      source: 'bearer',
      value: `a${run}b`,
    });
    expect(readPresentedKey(req({}, `/x?key=a${'+'.repeat(1_000_000)}b+`), ALL)).toEqual({
      source: 'query',
      value: `a${run}b`,
    });
    expect(readPresentedKey(req({ cookie: `sid="a${run}b "` }), ALL)).toEqual({ source: 'cookie', value: `a${run}b` });
    expect(readPresentedKey(req({ 'x-api-key': '\t k1\t ' }), ALL)).toEqual({ source: 'header', value: 'k1' });
  });

  it('finds repeated headers in rawHeaders when the request has no headersDistinct (HTTP/2)', () => {
    const http2 = (name: string, values: string[]): RawHttpRequest => ({
      headers: { [name]: values.join(', ') },
      rawHeaders: [':method', 'GET', ...values.flatMap((value) => [name, value])],
    });
    expect(() => readPresentedKey(http2('x-api-key', ['k1', 'k2']), ALL)).toThrow(ApiKeyConflictException);
    expect(() => readPresentedKey(http2('authorization', ['Bearer k1', 'Bearer k2']), ALL)).toThrow(
      ApiKeyConflictException,
    );
    expect(readPresentedKey(http2('x-api-key', ['k1,k2']), ALL)).toEqual({ source: 'header', value: 'k1,k2' });
  });
});

describe('isWellFormedKey', () => {
  it('accepts visible ASCII up to the maximum and nothing else', () => {
    expect(isWellFormedKey('sk_live_ABC123', 20)).toBe(true);
    expect(isWellFormedKey('x'.repeat(21), 20)).toBe(false);
    for (const bad of ['', 'a b', 'a,b', 'a;b', 'a"b', 'a\\b', 'é', 'a\u0000b', 'a\nb'])
      expect(isWellFormedKey(bad, 20)).toBe(false);
  });
});
