import { execFileSync, spawn } from 'node:child_process';
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
 * `thaw()`; a detached watchdog process thaws it after `watchdogMs` whatever happens to the test
 * process (a thread blocked on a frozen disk cannot run the test's own clean-up).
 */
export function freezableExt4(watchdogMs = 60_000): { path: string; freeze(): void; thaw(): void; remove(): void } {
  const root = mkdtempSync(join(tmpdir(), 'nestjs-api-key-frozen-'));
  const image = join(root, 'disk.img');
  const path = join(root, 'mnt');
  mkdirSync(path);
  writeFileSync(image, Buffer.alloc(0));
  execFileSync('truncate', ['-s', '16M', image]);
  execFileSync('mkfs.ext4', ['-q', image]);
  execFileSync('mount', ['-o', 'loop', image, path]);
  let frozen = false;
  const thaw = () => {
    if (!frozen) return;
    frozen = false;
    execFileSync('fsfreeze', ['-u', path]);
  };
  return {
    path,
    freeze() {
      const watchdog = spawn('sh', ['-c', `sleep ${Math.ceil(watchdogMs / 1000)}; fsfreeze -u '${path}' 2>/dev/null`], {
        detached: true,
        stdio: 'ignore',
      });
      watchdog.unref();
      execFileSync('fsfreeze', ['-f', path]);
      frozen = true;
    },
    thaw,
    remove() {
      thaw();
      execFileSync('umount', ['-l', path]);
      rmSync(root, { recursive: true, force: true });
    },
  };
}
