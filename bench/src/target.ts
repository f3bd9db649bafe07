import type { DynamicModule, Type } from '@nestjs/common';
import type { BenchKeySet } from './keys.js';

/**
 * One way of serving `GET /bench`. Each file in targets/ default-exports one; the HTTP run
 * discovers them, so adding a target (a store behind the cache, say) is adding one file.
 * Every target answers `{"ok":true}` to a request carrying `X-API-Key: <keys.validKey>`.
 */
export interface BenchTarget {
  /** Short name used on the command line and in the report. */
  readonly name: string;
  /** One line for the report: what the target does per request. */
  readonly description: string;
  /**
   * Whether the HTTP comparison runs it (default true). Targets used only by another part
   * (the flood's counting repository) say false.
   */
  readonly compare?: boolean;
  /** The root module of the application serving this target. */
  module(keys: BenchKeySet): Type | DynamicModule | Promise<Type | DynamicModule>;
  /** Extra counters the server reports with its CPU time (read by the flood). */
  stats?(): Record<string, number>;
  /** Removes what `module` created outside the process (a database schema, a file); run when the server stops. */
  cleanup?(): Promise<void>;
}
