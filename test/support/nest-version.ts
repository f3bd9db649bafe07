import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** The installed major of a package (CI runs the suites on Nest 12 and on Nest 11). */
export function installedMajor(name: string): number {
  const manifest = new URL(`../../node_modules/${name}/package.json`, import.meta.url);
  return Number((JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version.split('.')[0]);
}

/** The installed `@nestjs/microservices` major. */
export const microservicesMajor = installedMajor('@nestjs/microservices');

/** Nest 11's NATS transport uses the `nats` package; Nest 12's `@nats-io/transport-node`. */
export const natsPackage = microservicesMajor >= 12 ? '@nats-io/transport-node' : 'nats';

/** Why NATS cannot run here (its client package is not installed), if it cannot. */
export const natsSkip = (() => {
  try {
    require.resolve(natsPackage);
    return undefined;
  } catch {
    return `Nest ${microservicesMajor}'s NATS transport needs the "${natsPackage}" package`;
  }
})();
