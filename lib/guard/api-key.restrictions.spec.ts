import { describe, expect, it } from '@jest/globals';
import { isIP } from 'node:net';
import { ApiKeyRestrictions, normalizeOrigin, parseNetwork } from './api-key.restrictions.js';

const allows = (networks: string[], address: string | undefined) =>
  ApiKeyRestrictions.of(networks, null)!.refusal(address, undefined) === undefined;

describe('ApiKeyRestrictions', () => {
  it('is null for absent, null or empty lists', () => {
    expect(ApiKeyRestrictions.of(undefined, undefined)).toBeNull();
    expect(ApiKeyRestrictions.of(null, [])).toBeNull();
  });

  it.each<[string, string, boolean]>([
    ['0.0.0.0/0', '203.0.113.9', true],
    ['0.0.0.0/0', '::ffff:203.0.113.9', true],
    ['0.0.0.0/0', '2001:db8::1', false],
    ['::/0', '203.0.113.9', true],
    ['::/0', '2001:db8::1', true],
    ['10.0.0.0/8', '10.255.255.255', true],
    ['10.0.0.0/8', '11.0.0.0', false],
    ['10.0.0.0/8', '::ffff:10.1.2.3', true],
    ['10.0.0.0/8', '::ffff:a01:203', true],
    ['192.0.2.1/32', '192.0.2.1', true],
    ['192.0.2.1/32', '192.0.2.0', false],
    ['192.0.2.128/25', '192.0.2.127', false],
    ['192.0.2.128/25', '192.0.2.255', true],
    ['2001:db8::/32', '2001:db8:ffff::1', true],
    ['2001:db8::/32', '2001:db9::1', false],
    ['2001:db8::1/128', '2001:0db8:0000::0001', true],
    ['2001:db8::1/128', '2001:db8::2', false],
    ['fe80::/10', 'fe80::1%eth0', true],
    ['::ffff:192.0.2.0/120', '192.0.2.77', true],
    ['::ffff:192.0.2.0/120', '192.0.3.1', false],
    ['::1', '::1', true],
    ['::1', '::', false],
    ['255.255.255.255/32', '255.255.255.255', true],
    ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', true],
  ])('%s holds %s: %s', (network, address, expected) => {
    expect(allows([network], address)).toBe(expected);
  });

  it('reads exactly the addresses Node reads, as the same address (random texts)', () => {
    const alphabet = '0123456789abcdefABCDEF:.';
    let seed = 20;
    const random = (n: number) => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31), seed % n);
    const samples = ['::ffff:1.2.3.4', '1::', '::', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:1.2.3.4', '::1.2.3.4', '1::2:3'];
    for (let n = 0; n < 20_000; n++) {
      const length = 2 + random(18);
      samples.push(Array.from({ length }, () => alphabet[random(alphabet.length)]).join(''));
    }
    for (const text of samples) {
      const valid = isIP(text) !== 0;
      expect([text, allows(['::/0'], text)]).toEqual([text, valid]);
      if (isIP(text) !== 6) continue;
      // The URL parser's canonical text of the address names the same /128.
      const canonical = new URL(`http://[${text}]`).hostname.slice(1, -1);
      expect([text, allows([`${canonical}/128`], text)]).toEqual([text, true]);
      const other = canonical.endsWith('::')
        ? `${canonical}1`
        : canonical.replace(/[0-9a-f]$/, (d) => (d === '1' ? '2' : '1'));
      expect([text, other, allows([`${other}/128`], text)]).toEqual([text, other, false]);
    }
  });

  it('refuses an address that is missing or not an IP address', () => {
    for (const address of [undefined, '', 'unknown', '10.0.0.1:80', '1.2.3', 'example.com'])
      expect(allows(['0.0.0.0/0', '::/0'], address)).toBe(false);
  });

  it.each([
    ['10.0.0.0/33', 'invalid prefix length (0 to 32)'],
    ['::/129', 'invalid prefix length (0 to 128)'],
    ['10.0.0.0/', 'invalid prefix length'],
    ['10.0.0.0/08', 'invalid prefix length'],
    ['10.0.0.0/-1', 'invalid prefix length'],
    ['10.0.0.1/8', 'bits set past its prefix length'],
    ['2001:db8::1/32', 'bits set past its prefix length'],
    ['10.0.0/8', 'not an IPv4 or IPv6 network'],
    ['010.0.0.0/8', 'not an IPv4 or IPv6 network'],
    ['256.0.0.0/8', 'not an IPv4 or IPv6 network'],
    [' 10.0.0.0/8', 'not an IPv4 or IPv6 network'],
    ['fe80::1%eth0/64', 'not an IPv4 or IPv6 network'],
    ['', 'not an IPv4 or IPv6 network'],
    ['example.com/24', 'not an IPv4 or IPv6 network'],
  ])('rejects the network %j (%s)', (network, message) => {
    expect(() => parseNetwork(network)).toThrow(message);
  });

  it('admits an origin exactly as browsers send it, after normalising the allowed ones', () => {
    const restrictions = ApiKeyRestrictions.of(null, ['https://App.Example.com', 'http://localhost:3000/'])!;
    expect(restrictions.origins).toEqual(['https://App.Example.com', 'http://localhost:3000/']);
    expect(restrictions.refusal(undefined, 'https://app.example.com')).toBeUndefined();
    expect(restrictions.refusal(undefined, 'http://localhost:3000')).toBeUndefined();
    expect(restrictions.refusal(undefined, 'http://app.example.com')).toBe('origin');
    expect(restrictions.refusal(undefined, 'https://app.example.com.evil.test')).toBe('origin');
    expect(restrictions.refusal(undefined, 'null')).toBe('origin');
    expect(restrictions.refusal(undefined, undefined)).toBe('origin');
  });

  it('checks the network before the origin', () => {
    const restrictions = ApiKeyRestrictions.of(['10.0.0.0/8'], ['https://a.example'])!;
    expect(restrictions.refusal('192.0.2.1', 'https://a.example')).toBe('network');
    expect(restrictions.refusal('10.0.0.1', 'https://b.example')).toBe('origin');
    expect(restrictions.refusal('10.0.0.1', 'https://a.example')).toBeUndefined();
  });

  it.each([
    'https://a.example/path',
    'https://a.example?q',
    'ftp://a.example',
    'https://u:p@a.example',
    'null',
    'a.example',
  ])('rejects the origin %j', (origin) => {
    expect(() => normalizeOrigin(origin)).toThrow('is not an origin such as https://app.example.com');
  });

  it('normalises an origin to the form browsers send', () => {
    expect(normalizeOrigin('HTTPS://A.Example:443')).toBe('https://a.example');
    expect(normalizeOrigin('http://[::1]:8080')).toBe('http://[::1]:8080');
  });
});
