import { isIPv4, isIPv6 } from 'node:net';

/** Why a restricted key was refused: the client's network, or the request's `Origin`. */
export type ApiKeyRestrictionReason = 'network' | 'origin';

/**
 * A key's restrictions in the form the guard checks on every request, built once when the
 * key's record is verified (never per request). Every address is held as IPv6, IPv4 as its
 * IPv4-mapped form (`::ffff:a.b.c.d`), so `10.0.0.0/8` matches a client seen as `10.1.2.3` or as
 * `::ffff:10.1.2.3`, and `::/0` matches every client.
 */
export class ApiKeyRestrictions {
  private constructor(
    /** The allowed networks as stored (CIDR texts), or `null`: any network. */
    readonly networks: readonly string[] | null,
    /** The allowed origins as stored (`https://app.example.com`), or `null`: any origin. */
    readonly origins: readonly string[] | null,
    /** Per network, 8 words: the network's address masked (4 words), then its mask (4 words). */
    private readonly ranges: Int32Array | null,
    private readonly originSet: ReadonlySet<string> | null,
  ) {}

  /**
   * The restrictions of these lists, `null` when neither restricts (absent, `null` or empty).
   * Throws a `RangeError` naming the first malformed entry.
   */
  static of(networks: unknown, origins: unknown): ApiKeyRestrictions | null {
    const networkList = listOf(networks, 'allowedNetworks');
    const originList = listOf(origins, 'allowedOrigins');
    if (networkList === null && originList === null) return null;
    let ranges: Int32Array | null = null;
    if (networkList !== null) {
      ranges = new Int32Array(networkList.length * 8);
      networkList.forEach((text, index) => ranges!.set(parseNetwork(text), index * 8));
    }
    const originSet = originList && new Set(originList.map(normalizeOrigin));
    return new ApiKeyRestrictions(
      networkList && Object.freeze([...networkList]),
      originList && Object.freeze([...originList]),
      ranges,
      originSet,
    );
  }

  /**
   * Why a request from `address` (the client's IP address, without port) carrying `origin` (its
   * `Origin` header) is refused, or `undefined` when the key may be used from there. An address
   * that is missing or not an IP address never matches a network.
   */
  refusal(address: string | undefined, origin: string | undefined): ApiKeyRestrictionReason | undefined {
    if (this.ranges !== null && (address === undefined || !this.allowsAddress(address))) return 'network';
    if (this.originSet !== null && (origin === undefined || !this.originSet.has(origin))) return 'origin';
    return undefined;
  }

  private allowsAddress(address: string): boolean {
    const words = SCRATCH;
    if (!parseAddress(address, words)) return false;
    const [a0, a1, a2, a3] = words as unknown as [number, number, number, number];
    const ranges = this.ranges!;
    for (let i = 0; i < ranges.length; i += 8) {
      if (
        (a0 & ranges[i + 4]!) === ranges[i] &&
        (a1 & ranges[i + 5]!) === ranges[i + 1] &&
        (a2 & ranges[i + 6]!) === ranges[i + 2] &&
        (a3 & ranges[i + 7]!) === ranges[i + 3]
      )
        return true;
    }
    return false;
  }
}

/** The request's address, parsed here (synchronously, so one buffer serves every request). */
const SCRATCH = new Int32Array(4);

/**
 * Validates a network given as CIDR (`10.0.0.0/8`, `2001:db8::/32`, `::ffff:10.0.0.0/104`) or as one
 * address (a `/32` or `/128`), and returns it as {@link ApiKeyRestrictions} holds it. Throws a
 * `RangeError` for anything else, and for a network with bits set past its prefix
 * (`10.0.0.1/8`), which is almost always a mistake.
 */
export function parseNetwork(text: string): Int32Array {
  const slash = text.indexOf('/');
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const words = new Int32Array(8);
  const v4 = isIPv4(addressText);
  // A zone (`fe80::1%eth0`) names an interface, not a network.
  if (!v4 && (!isIPv6(addressText) || addressText.includes('%')))
    throw new RangeError(`"${text}" is not an IPv4 or IPv6 network in CIDR notation`);
  parseAddress(addressText, words);
  const width = v4 ? 32 : 128;
  const prefixText = slash < 0 ? String(width) : text.slice(slash + 1);
  if (!/^(0|[1-9]\d{0,2})$/.test(prefixText) || Number(prefixText) > width)
    throw new RangeError(`"${text}" has an invalid prefix length (0 to ${width})`);
  const prefix = Number(prefixText) + (v4 ? 96 : 0);
  for (let i = 0; i < 4; i++) {
    const bits = Math.min(Math.max(prefix - 32 * i, 0), 32);
    const mask = bits === 0 ? 0 : -1 << (32 - bits);
    if ((words[i]! & mask) !== words[i])
      throw new RangeError(`"${text}" has bits set past its prefix length: write the network's first address`);
    words[4 + i] = mask;
  }
  return words;
}

/**
 * Writes `text`, an IPv4 or IPv6 address (an IPv6 zone `%eth0` is ignored), into the first four
 * words of `out` as IPv6 (IPv4 as `::ffff:a.b.c.d`); `false` when it is not an address.
 */
function parseAddress(text: string, out: Int32Array): boolean {
  if (isIPv4(text)) {
    out[0] = 0;
    out[1] = 0;
    out[2] = 0xffff;
    out[3] = ipv4Word(text);
    return true;
  }
  const percent = text.indexOf('%');
  const bare = percent < 0 ? text : text.slice(0, percent);
  if (!isIPv6(bare)) return false;
  const groups = ipv6Groups(bare);
  for (let i = 0; i < 4; i++) out[i] = (groups[2 * i]! << 16) | groups[2 * i + 1]!;
  return true;
}

function ipv4Word(text: string): number {
  const [a, b, c, d] = text.split('.').map(Number) as [number, number, number, number];
  return (a << 24) | (b << 16) | (c << 8) | d;
}

/** The eight 16-bit groups of a valid IPv6 address (`::` expanded, a dotted IPv4 tail as two groups). */
function ipv6Groups(text: string): number[] {
  const halves = text.split('::');
  const [left, right] = halves.map((half) =>
    half === ''
      ? []
      : half.split(':').flatMap((part) => {
          if (!part.includes('.')) return [parseInt(part, 16)];
          const word = ipv4Word(part);
          return [word >>> 16, word & 0xffff];
        }),
  ) as [number[], number[] | undefined];
  if (right === undefined) return left;
  return [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
}

/**
 * An allowed origin in the form browsers send it (`https://app.example.com`, `http://localhost:3000`:
 * scheme, host and port only, lower case, no default port). Throws a `RangeError` for anything
 * else (a path, a query, credentials, a scheme other than http or https, the `null` origin).
 */
export function normalizeOrigin(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new RangeError(`"${text}" is not an origin such as https://app.example.com`);
  }
  if (
    (url.protocol !== 'https:' && url.protocol !== 'http:') ||
    url.username !== '' ||
    url.password !== '' ||
    !/^[a-z][a-z0-9+.-]*:\/\/[^/?#]+\/?$/i.test(text)
  )
    throw new RangeError(`"${text}" is not an origin such as https://app.example.com (scheme, host and port only)`);
  return url.origin;
}

/** A list field of a record: `null` when absent, `null` or empty; throws when not an array of strings. */
function listOf(value: unknown, field: string): readonly string[] | null {
  if (value === undefined || value === null) return null;
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string'))
    throw new RangeError(`${field} must be an array of strings or null`);
  return value.length === 0 ? null : (value as string[]);
}
