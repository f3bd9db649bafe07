import { describe, expect, it } from '@jest/globals';
import { crc32 } from 'node:zlib';
import { ApiKeyFormat } from 'nestjs-api-key';
import { secretScanningRegistration } from 'nestjs-api-key/leaks';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** The checksum as the registration text describes it, written independently of the library. */
function describedChecksum(body: string): string {
  let value = crc32(body);
  let digits = '';
  for (let i = 0; i < 6; i++, value = Math.floor(value / 62)) digits = BASE62[value % 62] + digits;
  return digits;
}

describe('secretScanningRegistration', () => {
  const format = new ApiKeyFormat('acme_live');
  const registration = secretScanningRegistration(format, undefined, 'https://api.acme.test/github/secret-scanning');

  it('names the token type, prefix and endpoint', () => {
    expect(registration).toMatchObject({
      tokenType: 'acme_live_api_key',
      prefix: 'acme_live_',
      endpoint: 'https://api.acme.test/github/secret-scanning',
    });
    expect(secretScanningRegistration('acme', 'acme_token')).toMatchObject({
      tokenType: 'acme_token',
      prefix: 'acme_',
    });
  });

  it('gives a regular expression that finds every generated and rotated key, within the stated lengths', () => {
    const regex = new RegExp(registration.regex, 'g');
    for (let i = 0; i < 200; i++) {
      const { key, id } = format.generate();
      const rotated = format.generate(i % 2 ? id : 'x'.repeat(1 + (i % 64))).key;
      for (const candidate of [key, rotated]) {
        expect(`token = "${candidate}";`.match(regex)).toEqual([candidate]);
        expect(candidate.length).toBeGreaterThanOrEqual(registration.length.min);
        expect(candidate.length).toBeLessThanOrEqual(registration.length.max);
      }
    }
  });

  it('does not match other prefixes, truncated keys or keys glued to more word characters', () => {
    const regex = new RegExp(registration.regex);
    const { key } = format.generate();
    expect(regex.test(key.replace('acme_live_', 'acme_test_'))).toBe(false);
    expect(regex.test(key.slice(0, -1))).toBe(false);
    expect(regex.test(`${key}x`)).toBe(false);
    expect(regex.test(`x${key}`)).toBe(false);
  });

  it('describes the checksum exactly: recomputed from the description, it matches every key', () => {
    expect(registration.checksum).toContain('CRC32');
    for (let i = 0; i < 200; i++) {
      const { key } = format.generate();
      expect(key.slice(-6)).toBe(describedChecksum(key.slice(0, -6)));
    }
  });
});
