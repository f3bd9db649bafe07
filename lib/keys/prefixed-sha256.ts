import { hash as oneShotHash, type BinaryToTextEncoding } from 'node:crypto';

/**
 * SHA-256 of a fixed 64-byte block followed by a string, without allocating a buffer per call:
 * the block sits at the start of a scratch buffer the string is written after, and the view
 * hashed for each message length is made once (keys of one format share one).
 */
export class PrefixedSha256 {
  private scratch: Buffer;
  private views: Buffer[] = [];

  /** @param block the prefix: 64 bytes (one SHA-256 block). */
  constructor(private readonly block: Buffer) {
    this.scratch = Buffer.alloc(block.length + 3 * 256);
    block.copy(this.scratch);
  }

  /** SHA-256 of the block followed by `message` (UTF-8), in `encoding`. */
  digest(message: string, encoding: BinaryToTextEncoding): string {
    // UTF-8 takes at most 3 bytes per UTF-16 unit; grow the scratch buffer for longer messages.
    if (this.block.length + message.length * 3 > this.scratch.length) {
      this.scratch = Buffer.alloc(this.block.length + message.length * 3);
      this.block.copy(this.scratch);
      this.views = [];
    }
    const length = this.scratch.write(message, this.block.length, 'utf8');
    const view = (this.views[length] ??= this.scratch.subarray(0, this.block.length + length));
    return oneShotHash('sha256', view, encoding);
  }
}
