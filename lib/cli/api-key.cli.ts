import { parseArgs } from 'node:util';
import { ApiKeyConfigurationError } from '../api-key-configuration.error.js';
import { ApiKeyLifecycleError } from '../api-key-lifecycle.error.js';
import type { ApiKeyModuleOptions } from '../api-key-module-options.interface.js';
import { ResolvedApiKeyOptions } from '../resolved-api-key.options.js';
import { ApiKeyClock, SystemApiKeyClock } from '../verification/api-key.clock.js';
import { ApiKeyEventSink } from '../api-key.events.js';
import type { ApiKeyService } from '../management/api-key.service.js';
import { createStandaloneApiKeyService } from '../management/api-key.standalone.js';
import type { ApiKeyStore, StoredApiKey } from '../storage/api-key.store.js';
import { escapeForLog } from '../log-escape.js';
import { closestName } from '../option-checks.js';
import { API_KEY_CACHE_DEFAULTS } from '../storage/cached-api-key.store.js';
import { CliUsageError } from './api-key-cli-usage.error.js';
import { openApiKeyStore, type OpenedApiKeyStore } from './api-key-store.factories.js';
import { packageVersion } from './package-version.cjs';
import { scanForApiKeys } from '../leaks/api-key.scan.js';

/**
 * Exit codes of the CLI. Under `--json`, a failure also writes `{"error":{"code","message"}}` on
 * standard output (nothing on standard error), `code` being `usage` for exit code 2, and for exit
 * code 1 one of {@link ApiKeyLifecycleError}'s codes (`not_found`, `revoked`, `conflict`,
 * `owner_limit_reached`, `store_failed`, `store_required`) or `failed` (the store is unreachable,
 * has no SQLite file, or its tables are missing or at another schema version).
 */
export const CliExitCode = {
  Ok: 0,
  /**
   * The operation failed: unknown id, revoked key, concurrent change, store error (unreachable,
   * no SQLite file, tables missing or at another schema version).
   */
  Failed: 1,
  /**
   * The command line is wrong: unknown command or option, missing or invalid argument, no store
   * URL or one with an unknown scheme.
   */
  Usage: 2,
} as const;

/** What {@link runCli} talks to; all optional, defaulting to the process's. */
export interface CliContext {
  /** Writes to standard output. */
  readonly stdout?: (text: string) => void;
  /** Writes to standard error. */
  readonly stderr?: (text: string) => void;
  /** Environment variables (`DATABASE_URL`, `API_KEY_PEPPER`, `API_KEY_PREFIX`). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Use this store instead of opening one from `--database`/`DATABASE_URL`. */
  readonly store?: ApiKeyStore;
  /** The clock (tests). */
  readonly clock?: ApiKeyClock;
  /**
   * Whether standard output is a terminal. There `create` and `rotate` print the key, the notice
   * to store it and its details; elsewhere (a pipe, `KEY=$(nestjs-api-key create …)`) the key
   * alone, and the rest on standard error. Default: `process.stdout.isTTY` when `stdout` is not
   * given, else `false`.
   */
  readonly stdoutIsTerminal?: boolean;
}

const USAGE = `Usage: nestjs-api-key <command> [options]

Commands:
  create --name <name> [--scope <s>]... [--owner <id>] [--metadata <json>] [--expires <date|30d>]
         [--allow-network <cidr>]... [--allow-origin <origin>]...
                                 create a key; prints the key once
  update <id> [--name <name>] [--scope <s>]... [--expires <date|30d>]
         [--allow-network <cidr>]... [--allow-origin <origin>]... [--any-network] [--any-origin]
                                 change a key (--scope replaces every scope, --allow-network every
                                 network, --allow-origin every origin; --any-* lift a restriction)
  list [--owner <id>] [--limit <n>] [--after <id>]
                                 list keys (never their secrets)
  show <id>                      show one key
  revoke <id>                    revoke a key for good
  revoke --owner <id>            revoke every key of an owner for good, in one write
  disable <id> | enable <id>     refuse a key until it is enabled again
  rotate <id> [--grace <0|30s|15m|24h|7d>] [--expires <date|30d>]
                                 give the key a new secret; prints the new key once; the old
                                 one keeps working for the grace period (default 0: stops now)
  migrate                        create or upgrade the store's tables (SQL stores)
  scan [paths...] [--verify]     find keys of the prefix in files, directories or stdin ("-",
                                 the default) by their checksum; prints file:line:column and
                                 the key's id, never its secret; --verify adds each key's state
                                 in the store. Exit code 1 when a key is found (with --verify:
                                 one that is not revoked)

Options of every command:
  --database <url>   store URL (default: $DATABASE_URL): sqlite:<file>,
                     postgres://user@host/db, or memory:; only migrate
                     creates a missing SQLite file
  --pepper <secret>  HMAC pepper, current first, repeatable (default: $API_KEY_PEPPER);
                     must be the application's, or its keys will not verify
  --prefix <prefix>  prefix of generated keys (default: $API_KEY_PREFIX or "apikey")
  --max-lifetime <366d>, --default-lifetime <90d>
                     the application's keyLifetime policy, applied by create, update and rotate
                     (default: $API_KEY_MAX_LIFETIME, $API_KEY_DEFAULT_LIFETIME; none)
  --json             machine-readable output; a failure is {"error":{"code":"...","message":"..."}}
                     on stdout
  --version          the package's version
  --help             this text

Output: create and rotate print the key alone on stdout when it is not a terminal (the notice
and the key's details go to stderr), so KEY=$(nestjs-api-key create --name x) captures the key.

Exit codes: 0 success; 1 the operation failed (unknown id, revoked key, concurrent change,
store error: unreachable, no SQLite file, tables missing or behind); 2 invalid command line.`;

/** Discards events: the CLI reports each change in its own output. */
class SilentEventSink extends ApiKeyEventSink {
  override get acceptsAuthenticated(): boolean {
    return false;
  }
  emit(): void {}
}

type Options = ReturnType<typeof parse>['values'];
type Printer = ReturnType<typeof printer>;
/** A command's work once the store is open. */
type Operation = (service: ApiKeyService, print: Printer) => Promise<void>;

/**
 * Runs the `nestjs-api-key` command line (`argv` without `node` and the script) and resolves
 * to its exit code. It never calls `process.exit`, so it can run in-process in tests. The
 * command line is checked before the store is opened, so a bad one exits 2 whatever the store's
 * state, and touches nothing.
 */
export async function runCli(argv: readonly string[], context: CliContext = {}): Promise<number> {
  const out = context.stdout ?? ((text: string) => void process.stdout.write(`${text}\n`));
  const err = context.stderr ?? ((text: string) => void process.stderr.write(`${text}\n`));
  const env = context.env ?? process.env;
  const asJson = jsonRequested(argv);
  const stdoutIsTerminal = context.stdoutIsTerminal ?? (context.stdout === undefined && process.stdout.isTTY === true);
  let opened: OpenedApiKeyStore | undefined;
  try {
    const { values, positionals } = parse(argv);
    const [command, ...rest] = positionals;
    if (values.help || command === 'help') {
      out(USAGE);
      return CliExitCode.Ok;
    }
    if (values.version) {
      out(packageVersion());
      return CliExitCode.Ok;
    }
    if (command === undefined && asJson) throw new CliUsageError(`no command; commands: ${COMMANDS.join(', ')}`);
    if (command === undefined) {
      err(USAGE);
      return CliExitCode.Usage;
    }
    if (!isCommand(command)) throw new CliUsageError(unknownCommand(command));
    refuseForeignOptions(command, values);
    if (command === 'scan') return await scan(rest, values, context, env, out, err, asJson);
    const byOwner = command === 'revoke' && values.owner !== undefined;
    const needsId = command !== 'create' && command !== 'list' && command !== 'migrate' && !byOwner;
    if (byOwner && rest.length > 0) throw new CliUsageError('revoke takes a key id or --owner, not both');
    if (needsId && rest.length === 0) throw new CliUsageError(`${command} needs a key id`);
    if (rest.length > (needsId ? 1 : 0))
      throw new CliUsageError(`unexpected argument "${escapeForLog(rest[needsId ? 1 : 0]!, 40)}"`);
    const url = context.store ? undefined : (values.database ?? env.DATABASE_URL);
    if (!context.store && !url) throw new CliUsageError('no store: pass --database <url> or set DATABASE_URL');
    if (command === 'migrate') {
      if (url === undefined) throw new CliUsageError('migrate needs a store URL (--database or DATABASE_URL)');
      opened = await openApiKeyStore(url, { create: true });
      return await migrate(opened, out, asJson); // awaited: its failure is this try's
    }
    const clock = context.clock ?? new SystemApiKeyClock();
    const operation = operationOf(command, rest[0], values, clock.now());
    const { peppers, settings } = settingsOf(values, env);
    if (!peppers && (command === 'create' || command === 'rotate')) {
      err(
        'warning: no pepper (--pepper or API_KEY_PEPPER): the key is hashed with plain SHA-256 ' +
          'and verifies only in an application without a pepper',
      );
    }
    let store = context.store;
    if (url !== undefined) {
      opened = await openApiKeyStore(url);
      store = opened.store;
      await opened.ready();
    }
    const events = new SilentEventSink();
    const { service } = createStandaloneApiKeyService({ repository: store!, ...settings, clock, events });
    await operation(service, printer({ out, err, asJson, stdoutIsTerminal }, clock.now()));
    return CliExitCode.Ok;
  } catch (error) {
    return report(error, asJson ? out : undefined, err);
  } finally {
    await opened?.close();
  }
}

/**
 * Checks the command's arguments and returns what it does with the store. Input the service
 * validates itself (ids, `--limit`, an expiry in the past) is checked when the command runs.
 */
function operationOf(
  command: Exclude<Command, 'migrate' | 'scan'>,
  id: string | undefined,
  values: Options,
  now: Date,
): Operation {
  switch (command) {
    case 'create': {
      if (values.name === undefined) throw new CliUsageError('create needs --name');
      const input = {
        name: values.name,
        scopes: (values.scope ?? []).flatMap((s) => s.split(',')).filter((s) => s !== ''),
        ownerId: values.owner ?? null,
        metadata: values.metadata === undefined ? {} : json(values.metadata, '--metadata'),
        expiresAt: values.expires === undefined ? undefined : instant(values.expires, now),
        allowedNetworks: listOption(values['allow-network']) ?? null,
        allowedOrigins: listOption(values['allow-origin']) ?? null,
      };
      return async (service, print) => {
        const issued = await service.create(input);
        print.issued(issued.key, issued.apiKey);
      };
    }
    case 'update': {
      if (values['any-network'] && values['allow-network'])
        throw new CliUsageError('update takes --allow-network or --any-network, not both');
      if (values['any-origin'] && values['allow-origin'])
        throw new CliUsageError('update takes --allow-origin or --any-origin, not both');
      const input = {
        name: values.name,
        scopes: listOption(values.scope),
        expiresAt: values.expires === undefined ? undefined : instant(values.expires, now),
        allowedNetworks: values['any-network'] ? null : listOption(values['allow-network']),
        allowedOrigins: values['any-origin'] ? null : listOption(values['allow-origin']),
      };
      if (Object.values(input).every((value) => value === undefined))
        throw new CliUsageError(
          'update needs something to change: --name, --scope, --expires, --allow-network, --allow-origin, ' +
            '--any-network or --any-origin',
        );
      return async (service, print) => print.one(await service.update(id!, input));
    }
    case 'list': {
      const limit = values.limit === undefined ? undefined : Number(values.limit);
      const query = { ownerId: values.owner, after: values.after, limit };
      return async (service, print) => print.list(await service.list(query));
    }
    case 'show':
      return async (service, print) => print.one(await service.get(id!));
    case 'revoke':
      if (values.owner !== undefined) {
        const ownerId = values.owner;
        return async (service, print) => print.revokedOwner(ownerId, await service.revokeOwner(ownerId));
      }
      return async (service, print) => print.one(await service.revoke(id!), CACHED_INSTANCES_NOTICE);
    case 'disable':
      return async (service, print) => print.one(await service[command](id!), CACHED_INSTANCES_NOTICE);
    case 'enable':
      return async (service, print) => print.one(await service.enable(id!));
    case 'rotate': {
      const gracePeriod = values.grace === undefined ? 0 : duration(values.grace, '--grace');
      if (Number.isNaN(new Date(now.getTime() + gracePeriod).getTime())) throw new CliUsageError('--grace is too long');
      const expiresAt = values.expires === undefined ? undefined : instant(values.expires, now);
      return async (service, print) => {
        const rotated = await service.rotate(id!, { gracePeriodMs: gracePeriod, expiresAt });
        print.issued(rotated.key, rotated.apiKey, rotated.previousSecretsExpireAt);
      };
    }
  }
}

/** The peppers and prefix of `--pepper` and `--prefix` or their variables, checked as the service will. */
function settingsOf(values: Options, env: Readonly<Record<string, string | undefined>>) {
  const peppers = values.pepper?.length ? values.pepper : env.API_KEY_PEPPER ? [env.API_KEY_PEPPER] : undefined;
  const settings = {
    pepper: peppers,
    keyPrefix: values.prefix ?? env.API_KEY_PREFIX,
    keyLifetime: lifetimeOf(values, env),
  };
  checkSettings(settings, {
    pepper: values.pepper?.length ? '--pepper' : 'API_KEY_PEPPER',
    keyPrefix: values.prefix === undefined ? 'API_KEY_PREFIX' : '--prefix',
    'keyLifetime.maxMs': values['max-lifetime'] === undefined ? 'API_KEY_MAX_LIFETIME' : '--max-lifetime',
    'keyLifetime.defaultMs':
      values['default-lifetime'] === undefined ? 'API_KEY_DEFAULT_LIFETIME' : '--default-lifetime',
  });
  return { peppers, settings };
}

/**
 * `scan [paths…] [--verify]`: finds keys of the prefix in the paths (standard input when none is
 * given, or `-`) and prints where, by id; with `--verify`, each key's state in the store. Exits
 * 1 when a key is found (with `--verify`: one that is not revoked), so a hook or CI job fails.
 */
async function scan(
  paths: readonly string[],
  values: Options,
  context: CliContext,
  env: Readonly<Record<string, string | undefined>>,
  out: (text: string) => void,
  err: (text: string) => void,
  asJson: boolean,
): Promise<number> {
  const { peppers, settings } = settingsOf(values, env);
  const url = values.database ?? env.DATABASE_URL;
  if (values.verify && !context.store && !url)
    throw new CliUsageError('scan --verify needs a store: pass --database <url> or set DATABASE_URL');
  let opened: OpenedApiKeyStore | undefined;
  try {
    let repository: ApiKeyStore | undefined = values.verify ? context.store : undefined;
    if (values.verify && !repository) {
      opened = await openApiKeyStore(url!);
      await opened.ready();
      repository = opened.store;
    }
    const format = new ResolvedApiKeyOptions(settings).format;
    const verify = repository ? { repository, peppers } : undefined;
    const result = await scanForApiKeys(paths.length ? paths : ['-'], { format, verify });
    if (asJson) out(JSON.stringify(result, null, 2));
    else {
      for (const found of result.findings) {
        const place = `${escapeForLog(found.file, 500)}:${found.line}:${found.column}`;
        const status = found.status === undefined ? '' : ` (${found.status})`;
        out(`${place}: ${format.prefix} key ${found.keyId}${status}`);
      }
      const megabytes = (result.bytes / 1_048_576).toFixed(1);
      err(`Scanned ${result.files} file(s), ${megabytes} MB: ${result.findings.length} key(s) found.`);
    }
    const failing = result.findings.filter((found) => found.status !== 'revoked');
    return failing.length > 0 ? CliExitCode.Failed : CliExitCode.Ok;
  } finally {
    await opened?.close();
  }
}

/**
 * Checks `--pepper` and `--prefix` (or their variables) the way the service will, before the
 * store is opened; `sources` names where each came from, for the message.
 */
function checkSettings(
  settings: Pick<ApiKeyModuleOptions, 'pepper' | 'keyPrefix' | 'keyLifetime'>,
  sources: Record<string, string>,
): void {
  try {
    new ResolvedApiKeyOptions(settings);
  } catch (error) {
    if (error instanceof ApiKeyConfigurationError)
      throw new CliUsageError(inCliTerms(error.message, new Map(Object.entries(sources))));
    throw error;
  }
}

/** What `revoke` and `disable` add: how long applications that cache keys may still accept the key. */
const CACHED_INSTANCES_NOTICE =
  'Applications without a cache refuse this key from their next request. Those with the cache on\n' +
  `(cache: true) may still accept it for up to cache.ttlMs (${API_KEY_CACHE_DEFAULTS.ttlMs / 1000} s by default), ` +
  'or for under a second\nwith the PostgreSQL store, which notifies them of changes.';

/** What `rotate` adds: applications that cache keys learn of the rotation late. */
const ROTATED_CACHE_NOTICE =
  'Applications with the cache on (cache: true) learn of the rotation within cache.ttlMs ' +
  `(${API_KEY_CACHE_DEFAULTS.ttlMs / 1000} s by\ndefault), or under a second with the PostgreSQL store: ` +
  'until then they accept the previous key,\neven past that time.';

/**
 * Reports why the command failed and returns its exit code: 2 for a bad command line (the
 * service's `invalid_input` included), 1 otherwise. Under `--json` (`json` is then standard
 * output) the report is `{"error":{"code","message"}}` (see {@link CliExitCode}), else a line on
 * standard error.
 */
function report(error: unknown, json: ((text: string) => void) | undefined, err: (text: string) => void): number {
  const { code, message, exitCode, syntax } = failureOf(error);
  if (json) json(JSON.stringify({ error: { code, message } }));
  else err(`error: ${message}${syntax ? '\nRun "nestjs-api-key --help" for usage.' : ''}`);
  return exitCode;
}

/** How {@link report} answers `error`; `syntax`: the command line itself is wrong (the usage helps). */
function failureOf(error: unknown): { code: string; message: string; exitCode: number; syntax?: boolean } {
  // By code, not class: parseArgs's TypeError may come from another realm (Jest's VM contexts).
  const parseArgsError = String((error as NodeJS.ErrnoException | null)?.code).startsWith('ERR_PARSE_ARGS');
  if (error instanceof CliUsageError || parseArgsError)
    return { code: 'usage', message: (error as Error).message, exitCode: CliExitCode.Usage, syntax: true };
  if (error instanceof ApiKeyLifecycleError) {
    const message = inCliTerms(escapeForLog(error.message, 500));
    if (error.code === 'invalid_input') return { code: 'usage', message, exitCode: CliExitCode.Usage };
    return { code: error.code, message, exitCode: CliExitCode.Failed };
  }
  // Store errors: unreachable, no SQLite file, tables missing or at another schema version.
  const message = withoutPrefix(escapeForLog(String((error as Error | null)?.message ?? error), 500));
  return { code: 'failed', message, exitCode: CliExitCode.Failed };
}

const withoutPrefix = (message: string): string => message.replace(/^nestjs-api-key: /, '');

/** The service's field names, as the CLI's options. */
const OPTION_OF_FIELD: ReadonlyMap<string, string> = new Map([
  ['name', '--name'],
  ['scopes', '--scope'],
  ['ownerId', '--owner'],
  ['metadata', '--metadata'],
  ['expiresAt', '--expires'],
  ['limit', '--limit'],
  ['after', '--after'],
  ['gracePeriod', '--grace'],
  ['gracePeriodMs', '--grace'],
  ['allowedNetworks', '--allow-network'],
  ['allowedOrigins', '--allow-origin'],
]);

/**
 * A service or configuration message in the CLI's terms: the field it starts with becomes the
 * option (`expiresAt must be in the future` → `--expires must be in the future`), and wording
 * that fits only code (an array, `null`, `get()`) is rephrased.
 */
function inCliTerms(message: string, options: ReadonlyMap<string, string> = OPTION_OF_FIELD): string {
  return withoutPrefix(message)
    .replace(/^scopes must be an array of non-empty strings/, 'each --scope must be a non-empty string')
    .replace(/^ownerId must be a non-empty string or null$/, 'ownerId must not be empty')
    .replace(/^pepper must be a string \(or a non-empty list of strings\) of (.*), or false$/, 'pepper must be $1')
    .replace(/^[\w.]+/, (field) => options.get(field) ?? field)
    .replace(
      'read the key with get() before retrying',
      'check the key with `nestjs-api-key show <id>` before retrying',
    );
}

const COMMANDS = [
  'create',
  'update',
  'list',
  'show',
  'revoke',
  'disable',
  'enable',
  'rotate',
  'migrate',
  'scan',
] as const;
type Command = (typeof COMMANDS)[number];
const isCommand = (text: string): text is Command => (COMMANDS as readonly string[]).includes(text);

/** `unknown command "lsit": did you mean "list"?`, or the list of commands when none is close. */
function unknownCommand(command: string): string {
  const nearest = closestName(command, [...COMMANDS, 'help']);
  const hint = nearest === undefined ? `commands: ${COMMANDS.join(', ')}` : `did you mean "${nearest}"?`;
  return `unknown command "${escapeForLog(command, 40)}": ${hint}`;
}

/** Options every command takes. */
const GLOBAL_OPTIONS: readonly (keyof Options)[] = [
  'database',
  'pepper',
  'prefix',
  'max-lifetime',
  'default-lifetime',
  'json',
  'help',
  'version',
];

/** The options of each command besides {@link GLOBAL_OPTIONS}. */
const COMMAND_OPTIONS: Readonly<Record<Command, readonly (keyof Options)[]>> = {
  create: ['name', 'scope', 'owner', 'metadata', 'expires', 'allow-network', 'allow-origin'],
  update: ['name', 'scope', 'expires', 'allow-network', 'allow-origin', 'any-network', 'any-origin'],
  list: ['owner', 'limit', 'after'],
  show: [],
  revoke: ['owner'],
  disable: [],
  enable: [],
  rotate: ['grace', 'expires'],
  migrate: [],
  scan: ['verify'],
};

/** Refuses an option `command` does not take (`list --scope a`) instead of ignoring it. */
function refuseForeignOptions(command: Command, values: Options): void {
  const own = COMMAND_OPTIONS[command];
  for (const option of Object.keys(values) as (keyof Options)[]) {
    if (GLOBAL_OPTIONS.includes(option) || own.includes(option)) continue;
    const takes = own.length
      ? `its options: ${own.map((name) => `--${name}`).join(', ')}`
      : 'it takes only the options of every command (--database, --pepper, --prefix, --json)';
    throw new CliUsageError(`${command} does not take --${option}; ${takes}`);
  }
}

/**
 * Whether `--json` is among the options (before any `--`): known even when the command line
 * does not parse, so that its error is JSON too.
 */
function jsonRequested(argv: readonly string[]): boolean {
  return optionsPart(argv).includes('--json');
}

/** The arguments before `--` (after it, everything is a positional). */
function optionsPart(argv: readonly string[]): readonly string[] {
  const end = argv.indexOf('--');
  return end === -1 ? argv : argv.slice(0, end);
}

/** `migrate`: applies the store's pending schema migrations and says which. */
async function migrate(opened: OpenedApiKeyStore, out: (text: string) => void, asJson: boolean): Promise<number> {
  if (!opened.migrate) throw new CliUsageError('this store has no schema to migrate');
  const applied = await opened.migrate();
  if (asJson) out(JSON.stringify({ applied }));
  else
    out(applied.length ? `Applied migration(s) ${applied.join(', ')}.` : 'The schema is up to date; nothing to apply.');
  return CliExitCode.Ok;
}

const OPTIONS = {
  database: { type: 'string' },
  pepper: { type: 'string', multiple: true },
  prefix: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
  name: { type: 'string' },
  scope: { type: 'string', multiple: true },
  owner: { type: 'string' },
  metadata: { type: 'string' },
  expires: { type: 'string' },
  grace: { type: 'string' },
  'allow-network': { type: 'string', multiple: true },
  'allow-origin': { type: 'string', multiple: true },
  'any-network': { type: 'boolean' },
  'any-origin': { type: 'boolean' },
  'max-lifetime': { type: 'string' },
  'default-lifetime': { type: 'string' },
  limit: { type: 'string' },
  after: { type: 'string' },
  verify: { type: 'boolean' },
} as const;

/** The command line's options and positionals; an unknown long option is refused with the nearest known one. */
function parse(argv: readonly string[]) {
  for (const arg of optionsPart(argv)) {
    const name = /^--([^=]+)/.exec(arg)?.[1];
    if (name === undefined || Object.hasOwn(OPTIONS, name)) continue;
    const nearest = closestName(name, Object.keys(OPTIONS));
    const hint = nearest === undefined ? '' : `: did you mean "--${nearest}"?`;
    throw new CliUsageError(`unknown option "--${escapeForLog(name, 40)}"${hint}`);
  }
  return parseArgs({ args: [...argv], allowPositionals: true, strict: true, options: OPTIONS });
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `0`, or a whole number with a unit (`30s`, `15m`, `24h`, `7d`), in ms. */
function duration(text: string, option: string): number {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(text);
  if (text === '0') return 0;
  if (!match) throw new CliUsageError(`${option} must be 0 or a number with a unit (ms, s, m, h, d), like 24h`);
  const ms = Number(match[1]) * UNITS[match[2]!]!;
  if (!Number.isSafeInteger(ms)) throw new CliUsageError(`${option} is too long`);
  return ms;
}

/** An ISO 8601 date, or a duration from now. */
function instant(text: string, now: Date): Date {
  if (/^\d+(ms|s|m|h|d)$/.test(text)) {
    const date = new Date(now.getTime() + duration(text, '--expires'));
    if (Number.isNaN(date.getTime())) throw new CliUsageError('--expires is too far in the future');
    return date;
  }
  const date = new Date(text);
  const day = /^(\d{4})-(\d{2})-(\d{2})/.exec(text);
  if (!day || Number.isNaN(date.getTime()))
    throw new CliUsageError('--expires must be an ISO 8601 date (2027-01-31T00:00:00Z) or a duration (30d)');
  // Date rolls an impossible day over (2027-02-30 becomes March 2nd): refuse it instead.
  const [year, month, dayOfMonth] = [Number(day[1]), Number(day[2]), Number(day[3])];
  const calendar = new Date(Date.UTC(year, month - 1, dayOfMonth));
  if (calendar.getUTCMonth() !== month - 1 || calendar.getUTCDate() !== dayOfMonth)
    throw new CliUsageError(`--expires names a day that does not exist (${day[0]})`);
  return date;
}

/** A repeatable option's values, each of which may be a comma-separated list; `undefined` when absent. */
function listOption(values: readonly string[] | undefined): string[] | undefined {
  return values?.flatMap((value) => value.split(',')).filter((value) => value !== '');
}

/** The `keyLifetime` policy from `--max-lifetime`/`--default-lifetime` or their variables, if any. */
function lifetimeOf(
  values: Options,
  env: Readonly<Record<string, string | undefined>>,
): ApiKeyModuleOptions['keyLifetime'] {
  const max = values['max-lifetime'] ?? env.API_KEY_MAX_LIFETIME;
  const fallback = values['default-lifetime'] ?? env.API_KEY_DEFAULT_LIFETIME;
  if (max === undefined && fallback === undefined) return undefined;
  return {
    maxMs:
      max === undefined ? undefined : duration(max, values['max-lifetime'] ? '--max-lifetime' : 'API_KEY_MAX_LIFETIME'),
    defaultMs:
      fallback === undefined
        ? undefined
        : duration(fallback, values['default-lifetime'] ? '--default-lifetime' : 'API_KEY_DEFAULT_LIFETIME'),
  };
}

function json(text: string, option: string): Record<string, unknown> {
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new CliUsageError(`${option} must be JSON`);
  }
}

function stateOf(key: StoredApiKey, now: Date): string {
  if (key.revokedAt) return 'revoked';
  if (key.disabled) return 'disabled';
  if (key.expiresAt && key.expiresAt <= now) return 'expired';
  return 'active';
}

const date = (value: Date | null): string => (value ? value.toISOString() : '-');

/** Where and how a command prints: `--json` or text, and whether standard output is a terminal. */
interface Output {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly asJson: boolean;
  readonly stdoutIsTerminal: boolean;
}

function printer({ out, err, asJson, stdoutIsTerminal }: Output, now: Date) {
  const row = (key: StoredApiKey) => ({
    id: key.id,
    name: escapeForLog(key.name, 60),
    state: stateOf(key, now),
    scopes: escapeForLog(key.scopes.join(',') || '-', 60),
    owner: escapeForLog(key.ownerId ?? '-', 40),
    expires: date(key.expiresAt),
    'last used': date(key.lastUsedAt),
  });
  const details = (key: StoredApiKey) =>
    Object.entries({
      ...row(key),
      created: date(key.createdAt),
      updated: date(key.updatedAt),
      revoked: date(key.revokedAt),
      metadata: escapeForLog(JSON.stringify(key.metadata), 200),
      networks: escapeForLog(key.allowedNetworks?.join(', ') ?? 'any', 400),
      origins: escapeForLog(key.allowedOrigins?.join(', ') ?? 'any', 400),
    })
      .map(([field, value]) => `${`${field}:`.padEnd(11)} ${value}`)
      .join('\n');
  return {
    /** The key's details, then `notice` (not under `--json`). */
    one(key: StoredApiKey, notice?: string): void {
      if (asJson) return out(JSON.stringify(key, null, 2));
      out(notice === undefined ? details(key) : `${details(key)}\n\n${notice}`);
    },
    /** What `revoke --owner` revoked: the ids, then the caches notice. */
    revokedOwner(ownerId: string, ids: readonly string[]): void {
      if (asJson) return out(JSON.stringify({ ownerId, revoked: ids }, null, 2));
      const owner = escapeForLog(ownerId, 100);
      if (ids.length === 0) return out(`Owner "${owner}" had no key left to revoke.`);
      const notice = CACHED_INSTANCES_NOTICE.replace('this key', 'these keys');
      out(`Revoked ${ids.length} key(s) of owner "${owner}":\n${ids.join('\n')}\n\n${notice}`);
    },
    list(keys: StoredApiKey[]): void {
      if (asJson) return out(JSON.stringify(keys, null, 2));
      if (keys.length === 0) return out('No keys.');
      out(table(keys.map(row)));
    },
    issued(plaintext: string, key: StoredApiKey, previousSecretsExpireAt?: Date): void {
      if (asJson)
        return out(
          JSON.stringify(
            { key: plaintext, apiKey: key, ...(previousSecretsExpireAt ? { previousSecretsExpireAt } : {}) },
            null,
            2,
          ),
        );
      const previous = previousSecretsExpireAt
        ? `\nThe previous key stops working at ${previousSecretsExpireAt.toISOString()}.\n${ROTATED_CACHE_NOTICE}`
        : '';
      const notice = 'Store this key now: it is not kept anywhere and cannot be shown again.';
      const expiry = key.expiresAt ? `\nIt expires at ${key.expiresAt.toISOString()}.` : '';
      const rest = `${notice}${expiry}${previous}\n\n${details(key)}`;
      // Off a terminal the key is the whole output, so that `KEY=$(nestjs-api-key create …)` captures it.
      if (stdoutIsTerminal) return out(`${plaintext}\n\n${rest}`);
      out(plaintext);
      err(rest);
    },
  };
}

function table(rows: Record<string, string>[]): string {
  const columns = Object.keys(rows[0]!);
  const widths = columns.map((column) => Math.max(column.length, ...rows.map((r) => r[column]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.toUpperCase())), ...rows.map((r) => line(columns.map((c) => r[c]!)))].join('\n');
}
