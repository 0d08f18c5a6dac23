/**
 * File writing that never leaves a half-written file: every write goes to a
 * temporary name in the same folder and is renamed over the target, which is
 * atomic on POSIX file systems.
 *
 * @module
 */

import { InputError } from "./errors.ts";
import { dirname } from "node:path";

let counter = 0;

/** Returns a temporary path beside `path`, unique within this process. */
function temporaryPath(path: string): string {
  counter += 1;
  return `${path}.tmp-${Deno.pid}-${counter}`;
}

/**
 * Writes bytes to `path` atomically, creating the parent folder.
 *
 * @throws {Error} When the write fails; the target is then unchanged.
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array,
): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  const tmp = temporaryPath(path);
  try {
    await Deno.writeFile(tmp, data);
    await Deno.rename(tmp, path);
  } catch (error) {
    await Deno.remove(tmp).catch(() => {});
    throw new InputError(
      `Cannot write file "${path}": ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/** Writes a UTF-8 string to `path` atomically. */
export async function writeTextAtomic(
  path: string,
  text: string,
): Promise<void> {
  await writeFileAtomic(path, new TextEncoder().encode(text));
}

/** Writes a value as pretty-printed JSON (two-space indent, final newline). */
export async function writeJsonAtomic(
  path: string,
  value: unknown,
): Promise<void> {
  await writeTextAtomic(path, JSON.stringify(value, null, 2) + "\n");
}

/** Returns whether a path exists (following symlinks). */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * Runs `body` while holding an exclusive lock on the file `path`, created
 * empty when missing, so processes that share a cache folder take turns.
 * The operating system releases the lock when the process ends, so a killed
 * run never leaves it held.
 */
export async function withFileLock<T>(
  path: string,
  body: () => Promise<T>,
): Promise<T> {
  await Deno.mkdir(dirname(path), { recursive: true });
  const file = await Deno.open(path, { create: true, write: true });
  try {
    await file.lock(true);
    return await body();
  } finally {
    // Closing the file releases the lock.
    file.close();
  }
}
