import { ApiKeyConfigurationError } from './api-key-configuration.error.js';
import { packageRequire } from './package-require.cjs';

/**
 * Loads an optional peer dependency when a feature that needs it is set up, so an entry point
 * (whose static imports would fail at link time, before any code runs) loads without it.
 * Synchronous, for constructors; meant for CommonJS packages: a synchronous load of an ESM-only
 * package fails in Jest before Node 24.9.
 * @param name the package, as the user installs it
 * @param usedBy what needs it, as the message names it (`SqliteApiKeyStore`)
 * @throws ApiKeyConfigurationError naming the package and the command that installs it, when it is not installed
 */
export function loadOptionalPackage<T>(name: string, usedBy: string): T {
  return attempt(name, usedBy, () => packageRequire(name) as T);
}

/**
 * Checks that an optional peer dependency can be loaded, without loading it: for a package
 * another thread loads (the SQLite worker loads `better-sqlite3`).
 * @throws ApiKeyConfigurationError as {@link loadOptionalPackage}
 */
export function assertOptionalPackage(name: string, usedBy: string): void {
  attempt(name, usedBy, () => packageRequire.resolve(name));
}

function attempt<T>(name: string, usedBy: string, load: () => T): T {
  try {
    return load();
  } catch (error) {
    // Only the package itself missing: a broken install of one of its own dependencies says so itself.
    const { code, message } = error as NodeJS.ErrnoException;
    if (code !== 'MODULE_NOT_FOUND' || !message.startsWith(`Cannot find module '${name}'`)) throw error;
    throw new ApiKeyConfigurationError(
      `The "${name}" package is missing. Please, make sure to install it to use ${usedBy} (npm i ${name})`,
    );
  }
}
