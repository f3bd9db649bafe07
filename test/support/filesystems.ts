import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Real filesystem faults for the storage tests: a small tmpfs that can be filled to the last byte,
 * and an ext4 image on a loop device that can be frozen (`fsfreeze`), so that every write to it
 * blocks in the kernel as on a disk that stopped answering. Both need root (mount), as on CI.
 */

/** A tmpfs of `sizeKb` KiB mounted on a new directory. */
export function smallTmpfs(sizeKb: number): { path: string; fill(): void; free(): void; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), 'nestjs-api-key-full-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKb}k`, 'tmpfs', path]);
  const filler = join(path, 'filler');
  return {
    path,
    /** Writes a file until the filesystem has not one byte left. */
    fill() {
      try {
        execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=4k'], { stdio: 'ignore' });
      } catch {
        // dd stops with ENOSPC: the filesystem is full
      }
    },
    free() {
      rmSync(filler, { force: true });
    },
    remove() {
      execFileSync('umount', ['-l', path]);
      rmSync(path, { recursive: true, force: true });
    },
  };
}

/**
 * A 16 MiB ext4 filesystem on a loop device. `freeze()` makes every write to it block until
 * `thaw()`. The thaw is done by a process started at freeze time, told through a pipe: while a
 * thread of the test process is blocked on the frozen disk inside a page fault (SQLite maps its
 * WAL index), the kernel also holds that process's memory map lock, so the test process cannot
 * start a new process until the disk answers. The same process thaws the disk by itself after
 * `watchdogMs`, whatever happens to the test process.
 */
export function freezableExt4(watchdogMs = 60_000): {
  path: string;
  freeze(): void;
  thaw(): Promise<void>;
  remove(): Promise<void>;
} {
  const root = mkdtempSync(join(tmpdir(), 'nestjs-api-key-frozen-'));
  const image = join(root, 'disk.img');
  const path = join(root, 'mnt');
  mkdirSync(path);
  writeFileSync(image, Buffer.alloc(0));
  execFileSync('truncate', ['-s', '16M', image]);
  execFileSync('mkfs.ext4', ['-q', image]);
  execFileSync('mount', ['-o', 'loop', image, path]);
  let thawer: ChildProcess | undefined;
  const thaw = async () => {
    const process = thawer;
    if (!process) return;
    thawer = undefined;
    if (process.exitCode !== null || process.signalCode !== null) return;
    const exited = once(process, 'exit');
    process.stdin!.end('thaw\n');
    await exited;
  };
  return {
    path,
    freeze() {
      thawer = spawn('bash', ['-c', `read -t ${Math.ceil(watchdogMs / 1000)} line; fsfreeze -u '${path}'`], {
        detached: true,
        stdio: ['pipe', 'ignore', 'ignore'],
      });
      execFileSync('fsfreeze', ['-f', path]);
    },
    thaw,
    async remove() {
      await thaw();
      // Thawed first: a frozen filesystem, once detached, could not be thawed by its path any more.
      execFileSync('umount', ['-l', path]);
      rmSync(root, { recursive: true, force: true });
    },
  };
}
