#!/usr/bin/env node
// The `nestjs-api-key` executable: runs the CLI and exits with its code.
import { runCli } from './api-key.cli.js';

void runCli(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
