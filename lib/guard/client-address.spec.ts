import { describe, expect, it } from '@jest/globals';
import { clientAddressOf } from './client-address.js';

describe('clientAddressOf', () => {
  it("prefers the platform's request.ip (which honours its trust-proxy setting)", () => {
    expect(clientAddressOf({ ip: '203.0.113.9', socket: { remoteAddress: '127.0.0.1' } })).toBe('203.0.113.9');
  });

  it('falls back to the socket of the request, or of its raw request (Fastify)', () => {
    expect(clientAddressOf({ socket: { remoteAddress: '198.51.100.4' } })).toBe('198.51.100.4');
    expect(clientAddressOf({ raw: { socket: { remoteAddress: '198.51.100.5' } } })).toBe('198.51.100.5');
  });

  it('turns IPv4-mapped IPv6 into IPv4 and cuts IPv6 to its /64', () => {
    expect(clientAddressOf({ ip: '::ffff:192.0.2.1' })).toBe('192.0.2.1');
    expect(clientAddressOf({ ip: '2001:db8:0:1:aaaa::1' })).toBe('2001:db8:0:1::/64');
    expect(clientAddressOf({ ip: '2001:db8::1' })).toBe('2001:db8:0:0::/64');
    expect(clientAddressOf({ ip: '::1' })).toBe('0:0:0:0::/64');
    expect(clientAddressOf({ ip: 'fe80::1%eth0' })).toBe('fe80:0:0:0::/64');
  });

  it("answers 'unknown' when there is no address", () => {
    expect(clientAddressOf({})).toBe('unknown');
  });
});
