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
    /** Networks inside `::ffff:0:0/96` (IPv4), 2 words each: the IPv4 network, its mask. */
    private readonly ipv4: Int32Array | null,
    /** Every other network, 8 words each: its address masked (4 words), then its mask (4 words). */
    private readonly ipv6: Int32Array,
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
    const parsed = (networkList ?? []).map(parseNetwork);
    const v4 = parsed.filter(isIPv4Network);
    const v6 = parsed.filter((words) => !isIPv4Network(words));
    const ipv4 = new Int32Array(v4.length * 2);
    v4.forEach((words, index) => ipv4.set([words[3]!, words[7]!], index * 2));
    const ipv6 = new Int32Array(v6.length * 8);
    v6.forEach((words, index) => ipv6.set(words, index * 8));
    const originSet = originList && new Set(originList.map(normalizeOrigin));
    return new ApiKeyRestrictions(
      networkList && Object.freeze([...networkList]),
      originList && Object.freeze([...originList]),
      networkList === null ? null : ipv4,
      ipv6,
      originSet,
    );
  }

  /**
   * Why a request from `address` (the client's IP address, without port) carrying `origin` (its
   * `Origin` header) is refused, or `undefined` when the key may be used from there. An address
   * that is missing or not an IP address never matches a network.
   */
  refusal(address: string | undefined, origin: string | undefined): ApiKeyRestrictionReason | undefined {
    if (this.ipv4 !== null && (address === undefined || !this.allowsAddress(address))) return 'network';
    if (this.originSet !== null && (origin === undefined || !this.originSet.has(origin))) return 'origin';
    return undefined;
  }

  private allowsAddress(address: string): boolean {
    const words = SCRATCH;
    if (!parseAddress(address, words)) return false;
    const [a0, a1, a2, a3] = words as unknown as [number, number, number, number];
    if (a0 === 0 && a1 === 0 && a2 === 0xffff) {
      const ipv4 = this.ipv4!;
      for (let i = 0; i < ipv4.length; i += 2) if ((a3 & ipv4[i + 1]!) === ipv4[i]) return true;
    }
    const ipv6 = this.ipv6;
    for (let i = 0; i < ipv6.length; i += 8) {
      if (
        (a0 & ipv6[i + 4]!) === ipv6[i] &&
        (a1 & ipv6[i + 5]!) === ipv6[i + 1] &&
        (a2 & ipv6[i + 6]!) === ipv6[i + 2] &&
        (a3 & ipv6[i + 7]!) === ipv6[i + 3]
      )
        return true;
    }
    return false;
  }
}

/** Whether a parsed network lies inside `::ffff:0:0/96`: an IPv4 network, matched on its last word alone. */
function isIPv4Network(words: Int32Array): boolean {
  return (
    words[0] === 0 && words[1] === 0 && words[2] === 0xffff && words[4] === -1 && words[5] === -1 && words[6] === -1
  );
}

/** The request's address, parsed here (synchronously, so one buffer serves every request). */
const SCRATCH = new Int32Array(4);

/**
 * Validates a network given as CIDR (`10.0.0.0/8`, `2001:db8::/32`, `::ffff:10.0.0.0/104`) or as one
 * address (a `/32` or `/128`), and returns it as {@link ApiKeyRestrictions} holds it: its address
 * masked (4 words, IPv4 as `::ffff:a.b.c.d`), then its mask (4 words). Throws a `RangeError` for
 * anything else, and for a network with bits set past its prefix (`10.0.0.1/8`), which is almost
 * always a mistake.
 */
export function parseNetwork(text: string): Int32Array {
  const slash = text.indexOf('/');
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const words = new Int32Array(8);
  const v4 = isIPv4(addressText);
  // A zone (`fe80::1%eth0`) names an interface, not a network.
  if ((!v4 && (!isIPv6(addressText) || addressText.includes('%'))) || !parseAddress(addressText, words))
    throw new RangeError(`"${text}" is not an IPv4 or IPv6 network in CIDR notation`);
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

/** The eight 16-bit groups of the IPv6 address being parsed (synchronously). */
const GROUPS = new Int32Array(8);

/**
 * Writes `text`, an IPv4 or IPv6 address (an IPv6 zone `%eth0` is ignored), into the first four
 * words of `out` as IPv6 (IPv4 as `::ffff:a.b.c.d`); `false` when it is not an address. A scan of
 * the characters, without regular expressions or allocations: it runs on every request of a
 * key restricted to networks.
 */
function parseAddress(text: string, out: Int32Array): boolean {
  const v4 = parseIPv4(text, 0, text.length);
  if (v4 !== undefined) {
    out[0] = 0;
    out[1] = 0;
    out[2] = 0xffff;
    out[3] = v4;
    return true;
  }
  const percent = text.indexOf('%');
  const end = percent < 0 ? text.length : percent;
  const groups = GROUPS;
  let count = 0;
  let gap = -1; // where `::` stands, in groups
  let i = 0;
  if (text.charCodeAt(0) === COLON) {
    if (text.charCodeAt(1) !== COLON) return false;
    gap = 0;
    i = 2;
  }
  while (i < end) {
    let value = 0;
    let digits = 0;
    let j = i;
    for (; j < end && digits <= 4; j++) {
      const digit = hexDigit(text.charCodeAt(j));
      if (digit < 0) break;
      value = value * 16 + digit;
      digits++;
    }
    if (j < end && text.charCodeAt(j) === DOT) {
      // A dotted IPv4 tail: the last two groups.
      const tail = parseIPv4(text, i, end);
      if (tail === undefined || count > 6) return false;
      groups[count++] = tail >>> 16;
      groups[count++] = tail & 0xffff;
      i = end;
      break;
    }
    if (digits === 0 || digits > 4 || count === 8) return false;
    groups[count++] = value;
    if (j === end) {
      i = end;
      break;
    }
    if (text.charCodeAt(j) !== COLON) return false;
    if (text.charCodeAt(j + 1) === COLON) {
      if (gap >= 0) return false;
      gap = count;
      i = j + 2;
    } else {
      i = j + 1;
      if (i === end) return false; // a trailing single colon
    }
  }
  if (gap < 0 ? count !== 8 : count > 7) return false;
  if (gap >= 0) {
    // Move the groups after `::` to the end and zero the ones it stands for.
    const shift = 8 - count;
    for (let k = count - 1; k >= gap; k--) groups[k + shift] = groups[k]!;
    groups.fill(0, gap, gap + shift);
  }
  for (let k = 0; k < 4; k++) out[k] = (groups[2 * k]! << 16) | groups[2 * k + 1]!;
  return true;
}

const COLON = 58;
const DOT = 46;

function hexDigit(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 97 && code <= 102) return code - 87;
  if (code >= 65 && code <= 70) return code - 55;
  return -1;
}

/** The 32-bit value of the dotted IPv4 address `text[start, end)`, or `undefined` when it is not one. */
function parseIPv4(text: string, start: number, end: number): number | undefined {
  let value = 0;
  let octets = 0;
  let i = start;
  while (octets < 4) {
    let octet = 0;
    let digits = 0;
    for (; i < end; i++) {
      const code = text.charCodeAt(i);
      if (code < 48 || code > 57) break;
      if (digits === 1 && octet === 0) return undefined; // a leading zero
      octet = octet * 10 + (code - 48);
      digits++;
    }
    if (digits === 0 || octet > 255) return undefined;
    value = (value << 8) | octet;
    octets++;
    if (octets < 4) {
      if (text.charCodeAt(i) !== DOT) return undefined;
      i++;
    }
  }
  return i === end ? value : undefined;
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
