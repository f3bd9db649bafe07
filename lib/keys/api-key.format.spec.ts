import { describe, expect, it } from '@jest/globals';
import { ApiKeyFormat } from './api-key.format.js';
import { ApiKeyHasher } from './api-key.hasher.js';

/** A deterministic "random" source: bytes 0, 1, 2, ... so the output is a fixed vector. */
const counting = (size: number): Buffer => Buffer.from(Array.from({ length: size }, (_, i) => i % 256));

describe('ApiKeyFormat', () => {
  it('generates <prefix>_<12-char id>_<32-char secret><6-char CRC32> from [A-Za-z0-9_] only', () => {
    const { key, id } = new ApiKeyFormat('sk_live').generate();
    expect(key).toMatch(/^sk_live_[0-9A-Za-z]{12}_[0-9A-Za-z]{38}$/);
    expect(key.split('_')[2]).toBe(id);
    expect(key.length).toBe(8 + 12 + 1 + 38);
  });

  it('matches fixed vectors: generated key (from fixed bytes), checksum and stored hash', () => {
    // If any of these change, keys issued by earlier versions stop verifying: do not "fix" the test.
    // The checksum and hashes were computed independently (Python's zlib.crc32, hmac, hashlib).
    const format = new ApiKeyFormat('sk_live', counting);
    const { key, id } = format.generate();
    expect(key).toBe('sk_live_0123456789AB_CDEFGHIJKLMNOPQRSTUVWXYZabcdefgh0XmZgl');
    expect(id).toBe('0123456789AB');
    expect(format.parse('sk_live_0123456789AB_CDEFGHIJKLMNOPQRSTUVWXYZabcdefgh0XmZgl')).toBe('0123456789AB');
    expect(new ApiKeyHasher(['test-pepper-0000000001']).hash(key)).toBe('wFN36GkEkki_gWsuk-mfoImYR3hmppz0TzOfC7rTWpM');
    expect(new ApiKeyHasher().hash(key)).toBe('G7wz1xsG4akACxlexqPo1hrsSJZDbc-Hjz-RHAoqWbE');
  });

  it('round-trips prefix, id and checksum', () => {
    const format = new ApiKeyFormat('acme_test');
    for (let i = 0; i < 200; i++) {
      const { key, id } = format.generate();
      expect(format.parse(key)).toBe(id);
    }
  });

  it('embeds a given id (rotation) and refuses ids that are not 1 to 64 letters and digits', () => {
    const format = new ApiKeyFormat('sk');
    expect(format.parse(format.generate('legacyId42').key)).toBe('legacyId42');
    expect(() => format.generate('with-dash')).toThrow(TypeError);
    expect(() => format.generate('x'.repeat(65))).toThrow(TypeError);
  });

  it('rejects every single-character typo, a wrong prefix, a truncated key and a random string', () => {
    const format = new ApiKeyFormat('sk_live');
    const { key } = format.generate();
    const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
    for (let i = 'sk_live_'.length; i < key.length; i++) {
      if (key[i] === '_') continue;
      const replacement = alphabet[(alphabet.indexOf(key[i]!) + 17) % 62]!;
      expect(format.parse(key.slice(0, i) + replacement + key.slice(i + 1))).toBeNull();
    }
    expect(format.parse(key.replace('sk_live', 'sk_test'))).toBeNull();
    expect(format.parse(key.slice(0, -1))).toBeNull();
    expect(format.parse(`${key}0`)).toBeNull();
    expect(format.parse('sk_live_notakey')).toBeNull();
    expect(format.claims('something-else')).toBe(false);
  });

  it('generates 100,000 keys without a collision of keys or ids, with every character used', () => {
    const format = new ApiKeyFormat('sk');
    const keys = new Set<string>();
    const ids = new Set<string>();
    const seen = new Set<string>();
    for (let i = 0; i < 100_000; i++) {
      const { key, id } = format.generate();
      keys.add(key);
      ids.add(id);
      if (seen.size < 62) for (const c of key.slice(-38, -6)) seen.add(c);
    }
    expect(keys.size).toBe(100_000);
    expect(ids.size).toBe(100_000);
    expect(seen.size).toBe(62);
  });

  it('refuses prefixes that would break parsing or double-click selection', () => {
    for (const prefix of ['', '_sk', 'sk_', 'sk__live', 'sk-live', '1sk', 'x'.repeat(33)]) {
      expect(() => new ApiKeyFormat(prefix)).toThrow(TypeError);
    }
    expect(ApiKeyFormat.isValidPrefix('acme_live_v2')).toBe(true);
  });
});
