import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import * as main from 'nestjs-api-key';
import * as cli from 'nestjs-api-key/cli';
import * as health from 'nestjs-api-key/health';
import * as leaks from 'nestjs-api-key/leaks';
import * as passport from 'nestjs-api-key/passport';
import * as postgres from 'nestjs-api-key/postgres';
import * as rateLimit from 'nestjs-api-key/rate-limit';
import * as sqlite from 'nestjs-api-key/sqlite';
import * as swagger from 'nestjs-api-key/swagger';
import * as testing from 'nestjs-api-key/testing';

/**
 * The names each entry point exports, runtime values and type-only names apart. A change to this
 * list is a change to the public API: make it on purpose and record it in the CHANGELOG.
 */
const surface: Record<string, { module: object; values: string[]; types: string[] }> = {
  '.': {
    module: main,
    values: [
      'API_KEY_MODULE_OPTIONS',
      'ApiKey',
      'ApiKeyAuthenticator',
      'ApiKeyClock',
      'ApiKeyConfigurationError',
      'ApiKeyConflictException',
      'ApiKeyErrorCode',
      'ApiKeyEventSink',
      'ApiKeyEventType',
      'ApiKeyFormat',
      'ApiKeyGraphQLError',
      'ApiKeyGuard',
      'ApiKeyGuardHook',
      'ApiKeyHasher',
      'ApiKeyInsufficientScopeException',
      'ApiKeyInvalidException',
      'ApiKeyLastUsedRecorder',
      'ApiKeyLifecycleError',
      'ApiKeyMissingException',
      'ApiKeyModule',
      'ApiKeyOr',
      'ApiKeyRepository',
      'ApiKeyRestrictedException',
      'ApiKeyRestrictions',
      'ApiKeyService',
      'ApiKeyStore',
      'ApiKeyStoreUnavailableException',
      'ApiKeySubscriptionCloseCode',
      'ApiKeySubscriptions',
      'ApiKeyWebSockets',
      'CachedApiKeyStore',
      'DEFAULT_API_KEY_PREFIX',
      'InMemoryApiKeyStore',
      'OptionalApiKey',
      'Public',
      'RequireAnyScope',
      'RequireScopes',
      'ResolvedApiKeyOptions',
      'SystemApiKeyClock',
      'apiKeyTracker',
      'clientAddressOf',
      'clientIpOf',
      'createApiKeyStore',
      'createStandaloneApiKeyService',
      'rememberWebSocketHandshake',
      'satisfiesScopes',
      'toApiKeyRecord',
    ],
    types: [
      'ApiKeyAuthenticatedEvent',
      'ApiKeyAuthenticationFailedEvent',
      'ApiKeyCacheOptions',
      'ApiKeyChangeFeed',
      'ApiKeyConnectError',
      'ApiKeyErrorBody',
      'ApiKeyEvent',
      'ApiKeyExpiringEvent',
      'ApiKeyExpiryNotice',
      'ApiKeyExpiryWarningsOptions',
      'ApiKeyFailureReason',
      'ApiKeyGraphQLErrorExtensions',
      'ApiKeyHttpException',
      'ApiKeyLeakAction',
      'ApiKeyLeakedEvent',
      'ApiKeyLifecycleErrorCode',
      'ApiKeyLifecycleEvent',
      'ApiKeyLifetimeOptions',
      'ApiKeyListQuery',
      'ApiKeyModuleExtras',
      'ApiKeyModuleOptions',
      'ApiKeyOrGuard',
      'ApiKeyPatch',
      'ApiKeyPrincipal',
      'ApiKeyRecord',
      'ApiKeyRestrictedEvent',
      'ApiKeyRestrictionReason',
      'ApiKeyRotatedEvent',
      'ApiKeySource',
      'ApiKeySourcesOptions',
      'ApiKeySubscriptionOptions',
      'ApiKeyVerification',
      'ApiKeyWebSocketOptions',
      'ClosableApiKeyStore',
      'CreateApiKeyInput',
      'CreateApiKeyStoreOptions',
      'IssuedApiKey',
      'PresentedApiKey',
      'RandomBytesSource',
      'RequestWithApiKey',
      'RotateApiKeyOptions',
      'RotatedApiKey',
      'ScopeRequirement',
      'StandaloneApiKeyOptions',
      'StandaloneApiKeyServices',
      'StaticApiKey',
      'StoredApiKey',
      'StoredApiKeySecret',
      'UpdateApiKeyInput',
      'WebSocketHandshake',
    ],
  },
  './cli': {
    module: cli,
    values: [
      'CliExitCode',
      'CliUsageError',
      'apiKeyStoreSchemes',
      'openApiKeyStore',
      'registerApiKeyStoreFactory',
      'runCli',
    ],
    types: ['ApiKeyStoreFactory', 'CliContext', 'OpenApiKeyStoreOptions', 'OpenedApiKeyStore'],
  },
  './passport': {
    module: passport,
    values: ['API_KEY_STRATEGY', 'ApiKeyPassportStrategy', 'ApiKeyStrategy'],
    types: [],
  },
  './postgres': {
    module: postgres,
    values: ['POSTGRES_MIGRATIONS', 'PostgresApiKeyStore', 'SqlApiKeyStore', 'createPostgresApiKeyStore'],
    types: [
      'ApiKeyTableNames',
      'PostgresApiKeyStoreOptions',
      'PostgresClient',
      'PostgresPool',
      'PostgresPoolConfig',
      'PostgresQueryResult',
      'QuotedTables',
      'SqlMigration',
    ],
  },
  './rate-limit': {
    module: rateLimit,
    values: [
      'API_KEY_RATE_LIMIT_OPTIONS',
      'ApiKeyRateLimitErrorCode',
      'ApiKeyRateLimitHook',
      'ApiKeyRateLimitModule',
      'ApiKeyRateLimitUnavailableException',
      'ApiKeyRateLimitedException',
      'RateLimit',
      'RateLimitCost',
      'RateLimitCounters',
      'ResolvedRateLimitOptions',
      'SkipRateLimit',
    ],
    types: [
      'ApiKeyRateLimitOptions',
      'ApiKeyRateLimitedBody',
      'CounterState',
      'QuotaPeriod',
      'QuotaSettings',
      'RateLimitCountBy',
      'RateLimitPlan',
      'RateLimitPolicyState',
      'RateLimitStoreFailureMode',
      'RateLimitWindow',
      'ResolvedRateLimitPlan',
      'RouteRateLimit',
    ],
  },
  './leaks': {
    module: leaks,
    values: [
      'API_KEY_LEAKS_OPTIONS',
      'ApiKeyLeakReceiver',
      'ApiKeyLeaksModule',
      'DEFAULT_LEAKS_PATH',
      'GITHUB_SECRET_SCANNING_KEYS_URL',
      'GitHubSecretScanningPublicKeys',
      'SecretScanningPublicKeys',
      'StaticSecretScanningPublicKeys',
      'scanForApiKeys',
      'secretScanningRegistration',
    ],
    types: [
      'ApiKeyFinding',
      'ApiKeyFindingStatus',
      'ApiKeyLeaksExtras',
      'ApiKeyLeaksOptions',
      'ApiKeyScanOptions',
      'ApiKeyScanResult',
      'GitHubSecretScanningPublicKeysOptions',
      'LeakReportRequest',
      'SecretScanningFeedback',
      'SecretScanningMatch',
      'SecretScanningPublicKey',
      'SecretScanningRegistration',
    ],
  },
  './health': {
    module: health,
    values: ['ApiKeyHealthIndicator'],
    types: ['ApiKeyHealthCheckSettings'],
  },
  './sqlite': {
    module: sqlite,
    values: ['SQLITE_MIGRATIONS', 'SqlApiKeyStore', 'SqliteApiKeyStore', 'createSqliteApiKeyStore'],
    types: ['ApiKeyTableNames', 'QuotedTables', 'SqlMigration', 'SqliteApiKeyStoreOptions'],
  },
  './swagger': {
    module: swagger,
    values: [
      'API_KEY_SCOPES_EXTENSION',
      'ApiKeyAuth',
      'ApiKeyForbiddenError',
      'ApiKeyRateLimitedError',
      'ApiKeyRestrictedError',
      'ApiKeySecuritySchemeName',
      'ApiKeyUnauthorizedError',
      'ApiKeyUnavailableError',
      'createApiKeyDocument',
      'withApiKeySecurity',
    ],
    types: ['ApiKeyAuthOptions'],
  },
  './testing': {
    module: testing,
    values: ['describeApiKeyStoreConformance'],
    types: ['ApiKeyStoreHarness', 'ConformanceTestApi'],
  },
};

const root = join(import.meta.dirname, '..', '..');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

/** The names an entry's source exports only as types (`export type { ... }` or `export { type ... }`). */
function typeOnlyExports(entry: string): string[] {
  const file = join(root, 'lib', entry, 'index.ts');
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest);
  const names: string[] = [];
  for (const statement of source.statements) {
    if (!ts.isExportDeclaration(statement)) continue;
    // `export *` would let the surface grow unseen: every entry names what it exports.
    if (!statement.exportClause || !ts.isNamedExports(statement.exportClause)) throw new Error(`${file}: export *`);
    for (const element of statement.exportClause.elements) {
      if (statement.isTypeOnly || element.isTypeOnly) names.push(element.name.text);
    }
  }
  return names.sort();
}

describe('public surface', () => {
  it('lists every entry point of the exports map', () => {
    const entries = Object.keys(manifest.exports).filter((entry) => entry !== './package.json');
    expect(Object.keys(surface).sort()).toEqual(entries.sort());
  });

  it.each(Object.keys(surface))('%s exports exactly the listed values and types', (entry) => {
    const { module, values, types } = surface[entry]!;
    expect(Object.keys(module).sort()).toEqual(values);
    expect(typeOnlyExports(entry)).toEqual(types);
  });
});
