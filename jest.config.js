/** Jest in native ESM mode (NestJS 12 is ESM-only); swc compiles TypeScript with decorator metadata. */
const swc = {
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true },
    target: 'es2022',
  },
  module: { type: 'es6' },
  sourceMaps: 'inline',
};

export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/lib', '<rootDir>/test'],
  testMatch: ['**/*.spec.ts', '**/*.e2e-spec.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleFileExtensions: ['ts', 'cts', 'js', 'mjs', 'cjs', 'json', 'node'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', swc],
    // The few CommonJS sources (.cts: they read __dirname and require) stay CommonJS.
    '^.+\\.cts$': ['@swc/jest', { ...swc, module: { type: 'commonjs' } }],
    // @fastify/static (CommonJS, needed by Swagger UI on Fastify) requires the ESM-only
    // content-disposition, which Jest's module system cannot require on Node 20: compile it to CommonJS.
    '/node_modules/content-disposition/.+\\.js$': ['@swc/jest', { module: { type: 'commonjs' } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!content-disposition/)'],
  moduleNameMapper: {
    '^nestjs-api-key$': '<rootDir>/lib/index.ts',
    '^nestjs-api-key/(.*)$': '<rootDir>/lib/$1/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
    // Our few CommonJS sources are .cts files imported as .cjs; a package's own .cjs stays itself.
    '^(\\.{1,2}/.*)\\.cjs$': ['$1.cts', '$1.cjs'],
  },
  testTimeout: 30000,
};
