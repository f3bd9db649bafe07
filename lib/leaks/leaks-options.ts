import { ApiKeyConfigurationError } from '../api-key-configuration.error.js';
import type { ApiKeyLeakAction } from '../api-key.events.js';
import { kindOf, optionNames, positiveInteger, rejectUnknownOptions, timerDelay } from '../option-checks.js';
import type { ApiKeyLeaksOptions } from './leaks-options.interface.js';

const ACTIONS: readonly ApiKeyLeakAction[] = ['revoke', 'disable', 'notify'];
const OPTION_NAMES = optionNames<ApiKeyLeaksOptions>({
  action: true,
  publicKeys: true,
  maxBodyBytes: true,
  replayWindowMs: true,
  replayMemory: true,
});

/** Extras of `ApiKeyLeaksModule.forRoot`/`forRootAsync` that must be known before options resolve. */
export interface ApiKeyLeaksExtras {
  /** The route GitHub posts reports to (give GitHub its full URL). Default `github/secret-scanning`. */
  path?: string;
}

/** The leak receiver's options, validated at bootstrap, with every default applied. */
export class ResolvedLeaksOptions {
  readonly action: ApiKeyLeakAction;
  readonly publicKeys: ApiKeyLeaksOptions['publicKeys'];
  readonly maxBodyBytes: number;
  readonly replayWindowMs: number;
  readonly replayMemory: number;

  /** Validates `options`; throws {@link ApiKeyConfigurationError} naming the first problem. */
  constructor(options: ApiKeyLeaksOptions | undefined) {
    const given = options ?? {};
    if (typeof given !== 'object' || Array.isArray(given))
      throw new ApiKeyConfigurationError(`leaks options must be an object, got ${kindOf(given)}`);
    rejectUnknownOptions(given, OPTION_NAMES, 'leaks');
    const action = given.action ?? 'revoke';
    if (!ACTIONS.includes(action))
      throw new ApiKeyConfigurationError(`leaks.action must be one of ${ACTIONS.join(', ')}`);
    const publicKeys = given.publicKeys;
    if (publicKeys !== undefined && typeof publicKeys !== 'function' && typeof publicKeys?.publicKeys !== 'function')
      throw new ApiKeyConfigurationError('leaks.publicKeys must be a SecretScanningPublicKeys class or instance');
    this.action = action;
    this.publicKeys = publicKeys;
    this.maxBodyBytes = positiveInteger(given.maxBodyBytes, 'leaks.maxBodyBytes', 1024 * 1024);
    this.replayWindowMs = timerDelay(given.replayWindowMs, 'leaks.replayWindowMs', 3_600_000);
    this.replayMemory = positiveInteger(given.replayMemory, 'leaks.replayMemory', 10_000);
  }
}
