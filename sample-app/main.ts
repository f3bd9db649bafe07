import { Logger } from '@nestjs/common';
import { createSampleApp } from './create-sample-app.js';

const app = await createSampleApp();
app.enableShutdownHooks();
const port = Number(process.env.PORT ?? 3000);
await app.listen(port, process.env.HOST ?? '127.0.0.1');
const adapter = process.env.HTTP_ADAPTER ?? 'express';
const gateway = adapter === 'express' ? ', socket.io namespace /catalogue' : '';
new Logger('SampleApp').log(
  `Listening on ${await app.getUrl()} (${adapter}), Swagger UI at /docs, GraphQL at /graphql${gateway}; demo keys are in the README`,
);
