/** Thrown at bootstrap when the module's options are invalid; the message says which and why. */
export class ApiKeyConfigurationError extends Error {
  /** @param message what is wrong with the configuration */
  constructor(message: string) {
    super(`nestjs-api-key: ${message}`);
    this.name = 'ApiKeyConfigurationError';
  }
}
