/**
 * The hostile-input corpus of the HTTP security suites (edge-input, fuzz), for every context:
 * credentials as header name and value pairs, with the stable code each must be refused with.
 * A context puts them where its transport carries headers (HTTP headers, a WebSocket handshake,
 * NATS or RabbitMQ message headers, gRPC metadata, a graphql-ws connection_init payload).
 */

/** The stable code a hostile credential set is refused with. */
export type HostileCode = 'API_KEY_MISSING' | 'API_KEY_INVALID' | 'API_KEY_CONFLICT';

/**
 * One credential: a header (the key's `x-api-key`, `authorization` or `cookie`, its value written
 * as given), or `query`, the value of the `api_key` query parameter (percent-encoded when sent).
 */
export type Credential = readonly [name: 'x-api-key' | 'authorization' | 'cookie' | 'query', value: string];

/** The cookie and query parameter the corpus puts keys in (the apps enable those sources). */
export const KEY_COOKIE = 'api_key';
export const KEY_QUERY = 'api_key';

/**
 * The characters beyond printable ASCII a value holds; a transport carries some of them only
 * (gRPC metadata printable ASCII, HTTP headers also tab and Latin-1, message headers more).
 */
export type Alphabet = 'tab' | 'latin1' | 'control' | 'line-break' | 'unicode';

/** One input of the corpus and its expected refusal. */
export interface HostileCase {
  readonly name: string;
  readonly credentials: readonly Credential[];
  readonly code: HostileCode;
  /** What its values need a transport to carry, beyond printable ASCII. */
  readonly alphabet: ReadonlySet<Alphabet>;
}

/** Values that look like nothing the client meant, as serializers produce them. */
export const JUNK_VALUES = ['null', 'undefined', '[object Object]', '""', ',', ', ,', ';', '='] as const;

/**
 * Characters that mean something to a source or to HTTP (fuzz inserts them into valid keys): the
 * separators of headers, cookies and queries, NUL, DEL and Latin-1.
 */
export const SPECIAL_CHARACTERS = [
  ' ',
  '\t',
  ',',
  ';',
  '=',
  '"',
  '\\',
  '&',
  '%',
  '+',
  '#',
  '?',
  '/',
  '\u0000',
  '\u00e9',
  '\u00ff',
  '\u007f',
] as const;

/** A key's UTF-8 bytes read as Latin-1 (what a server sees of a non-ASCII header value). */
export const utf8AsLatin1 = (text: string) => Buffer.from(text, 'utf8').toString('latin1');

/** Near misses of a valid key, refused as invalid wherever they are presented. */
export function nearMisses(key: string): ReadonlyArray<readonly [name: string, value: string]> {
  const flip = (at: number) => key.slice(0, at) + (key[at] === 'a' ? 'b' : 'a') + key.slice(at + 1);
  return [
    ['upper-cased', key.toUpperCase()],
    ['its last character changed (a checksum near miss)', flip(key.length - 1)],
    ['a middle character changed', flip(Math.floor(key.length / 2))],
    ['truncated by one character', key.slice(0, -1)],
    ['one character appended', `${key}0`],
    ['with a Latin-1 character', `${key}\u00e9`],
    ['the UTF-8 bytes of a non-ASCII key', utf8AsLatin1(`clé-${key}`)],
    ['with a quote', `"${key}`],
    ['with a backslash', `${key}\\x`],
  ];
}

/** Values of the `Authorization` header around a key, and how a request with only it is refused. */
export function authorizationValues(key: string): ReadonlyArray<readonly [value: string, code: HostileCode]> {
  return [
    ['Bearer', 'API_KEY_MISSING'],
    ['Bearer ', 'API_KEY_MISSING'],
    [`Bearer${key}`, 'API_KEY_MISSING'],
    [`Basic ${key}`, 'API_KEY_MISSING'],
    [`Token ${key}`, 'API_KEY_MISSING'],
    [`Bearer ${key} extra`, 'API_KEY_INVALID'],
    [`Bearer "${key}"`, 'API_KEY_INVALID'],
    [`Bearer ${key},x`, 'API_KEY_INVALID'],
  ];
}

/** What the corpus is made around. */
export interface HostileKeys {
  /** Two valid keys of the app. */
  readonly key: string;
  readonly other: string;
  /** A key of the app's format, checksum right, that was never issued. */
  readonly unissued: string;
  /** The app's `maxKeyLength`. */
  readonly maxKeyLength: number;
}

/**
 * The corpus around an app's keys: absent and blank keys, near misses, control characters, line
 * breaks, non-ASCII text, oversize and junk values, `Authorization` values, and two credentials
 * in one message (in one source or two).
 */
export function hostileCases({ key, other, unissued, maxKeyLength }: HostileKeys): HostileCase[] {
  const unknown = `unknown-key-of-valid-shape-${'0'.repeat(Math.max(0, key.length - 27))}`;
  const header = (value: string): Credential => ['x-api-key', value];
  const bearer = (value: string): Credential => ['authorization', value];
  const cookie = (value: string): Credential => ['cookie', value];
  const query = (value: string): Credential => ['query', value];
  const inside = (text: string) => key.slice(0, 8) + text + key.slice(8);
  const cases: Array<[string, Credential[], HostileCode]> = [
    ['no credential', [], 'API_KEY_MISSING'],
    ['an empty key', [header('')], 'API_KEY_MISSING'],
    ['a blank key', [header('  \t ')], 'API_KEY_MISSING'],
    ['an unknown key of valid shape', [header(unknown)], 'API_KEY_INVALID'],
    ['a key with a right checksum that was never issued', [header(unissued)], 'API_KEY_INVALID'],
    ...nearMisses(key).map(([name, value]): [string, Credential[], HostileCode] => [
      `a key ${name}`,
      [header(value)],
      'API_KEY_INVALID',
    ]),
    ['a key with a NUL inside', [header(inside('\u0000'))], 'API_KEY_INVALID'],
    ['a key with DEL', [header(`${key}\u007f`)], 'API_KEY_INVALID'],
    ['a key with a tab inside', [header(inside('\t'))], 'API_KEY_INVALID'],
    ['a key with a terminal escape sequence', [header(`\u001b[2J${key}`)], 'API_KEY_INVALID'],
    ['a key and an injected header line', [header(`${key}\r\nX-API-Key: ${other}`)], 'API_KEY_INVALID'],
    ['a key and an injected log line', [header(`${key}\n[Nest] 1 - LOG admin logged in`)], 'API_KEY_INVALID'],
    ['a non-ASCII key', [header(`clé-${key}-🔑`)], 'API_KEY_INVALID'],
    ['two keys joined in one value', [header(`${key}, ${other}`)], 'API_KEY_INVALID'],
    ['a 4 KB key', [header('k'.repeat(4096))], 'API_KEY_INVALID'],
    ['a key one character over maxKeyLength', [header('k'.repeat(maxKeyLength + 1))], 'API_KEY_INVALID'],
    ...JUNK_VALUES.map((value): [string, Credential[], HostileCode] => [
      `the value ${JSON.stringify(value)}`,
      [header(value)],
      'API_KEY_INVALID',
    ]),
    ...authorizationValues(key).map(([value, code]): [string, Credential[], HostileCode] => [
      `Authorization ${JSON.stringify(value)}`,
      [bearer(value)],
      code,
    ]),
    ['the key header twice, with two keys', [header(key), header(other)], 'API_KEY_CONFLICT'],
    ['a valid key and an unknown one in the key header', [header(key), header(unknown)], 'API_KEY_CONFLICT'],
    ['Authorization twice, with two keys', [bearer(`Bearer ${key}`), bearer(`Bearer ${other}`)], 'API_KEY_CONFLICT'],
    ['a key in the header and another as bearer', [header(key), bearer(`Bearer ${other}`)], 'API_KEY_CONFLICT'],
    [
      'an unknown key in the header, a valid one as bearer',
      [header(unknown), bearer(`Bearer ${key}`)],
      'API_KEY_CONFLICT',
    ],
    [
      'a key in the header and another in a cookie',
      [header(key), cookie(`${KEY_COOKIE}=${other}`)],
      'API_KEY_CONFLICT',
    ],
    ['a cookie repeated with two keys', [cookie(`${KEY_COOKIE}=${key}; ${KEY_COOKIE}=${other}`)], 'API_KEY_CONFLICT'],
    ['a quoted cookie with a near miss', [cookie(`theme=dark; ${KEY_COOKIE}="${key}x"`)], 'API_KEY_INVALID'],
    ['a key in the header and another in the query', [header(key), query(other)], 'API_KEY_CONFLICT'],
    ['the query parameter twice, with two keys', [query(key), query(other)], 'API_KEY_CONFLICT'],
    ['a query key with a NUL and a line break', [query(`${key}\u0000\r\n`)], 'API_KEY_INVALID'],
    ['a non-ASCII query key', [query(`clé-${key}`)], 'API_KEY_INVALID'],
  ];
  return cases.map(([name, credentials, code]) => ({
    name,
    credentials,
    code,
    // A query value is percent-encoded: any character reaches the server.
    alphabet: alphabetOf(credentials.flatMap(([name, value]) => (name === 'query' ? [] : [value])).join('')),
  }));
}

/** What `text` holds beyond printable ASCII. */
export function alphabetOf(text: string): ReadonlySet<Alphabet> {
  const alphabet = new Set<Alphabet>();
  for (const character of text) {
    const code = character.codePointAt(0)!;
    if (code === 0x09) alphabet.add('tab');
    else if (code === 0x0a || code === 0x0d) alphabet.add('line-break');
    else if (code < 0x20 || code === 0x7f) alphabet.add('control');
    else if (code > 0xff) alphabet.add('unicode');
    else if (code > 0x7f) alphabet.add('latin1');
  }
  return alphabet;
}
