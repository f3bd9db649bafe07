/**
 * Node's `require`, resolving from this package's own location. A CommonJS module in both builds
 * (like `sqlite/sqlite.worker-file.cts`), so the ESM build gets a synchronous `require` without
 * `import.meta`, which the CommonJS build cannot compile. Used only by `optional-package.ts`.
 */
export const packageRequire: NodeJS.Require = require;
