import { isIPv6 } from 'node:net';
import { rawRequestOf } from './api-key.request.js';

/**
 * The address of the client that sent `request`, for per-address limits: the platform's
 * `request.ip` (Express and Fastify both honour `X-Forwarded-For` there only when the app
 * trusts a proxy: Express `app.set('trust proxy', ...)`, Fastify `new FastifyAdapter({ trustProxy })`),
 * else the socket's peer address. IPv4-mapped IPv6 addresses become IPv4, and IPv6 addresses
 * are cut to their /64 network, the smallest block a client is usually given. `'unknown'` when
 * there is no address at all.
 */
export function clientAddressOf(request: object): string {
  const address = clientIpOf(request);
  if (!address) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  return isIPv6(address) ? `${expandIPv6(address).slice(0, 4).join(':')}::/64` : address;
}

function expandIPv6(address: string): string[] {
  const [head, tail] = address.split('%')[0]!.toLowerCase().split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].map((group) => group.replace(/^0+(?=.)/, ''));
}

/**
 * The full IP address of the client that sent `request`, as the platform resolved it: `request.ip`
 * (which follows `X-Forwarded-For` only as far as the app's trusted-proxy setting allows), else the
 * socket's peer address; `undefined` when there is none. Never reads `X-Forwarded-For` itself.
 */
export function clientIpOf(request: object): string | undefined {
  const ip = (request as { ip?: unknown }).ip;
  if (typeof ip === 'string' && ip !== '') return ip;
  return (rawRequestOf(request) as { socket?: { remoteAddress?: string } }).socket?.remoteAddress || undefined;
}
