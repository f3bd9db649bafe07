/**
 * The command line is wrong (unknown command or option, missing or invalid argument, a database
 * URL no factory can open): the CLI prints the message with a usage hint and exits 2. A store
 * factory throws it for a URL it cannot parse; failures to reach the store are plain errors (exit 1).
 */
export class CliUsageError extends Error {
  /** @param message what is wrong, without a prefix */
  constructor(message: string) {
    super(message);
    this.name = 'CliUsageError';
  }
}
