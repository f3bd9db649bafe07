// Generates a TypeScript client (swagger-typescript-api, fetch) from an OpenAPI document, as a
// user of the sample app would: `node generate-client.mjs <document.json> <output dir>` writes api.ts.
// It runs in its own Node process: the generator's dependencies do not load inside Jest.
import { generateApi } from 'swagger-typescript-api';

const [input, output] = process.argv.slice(2);
await generateApi({ input, output, fileName: 'api.ts', httpClientType: 'fetch', silent: true });
