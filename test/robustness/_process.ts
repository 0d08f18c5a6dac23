/**
 * Task processes for the robustness tests: start a task as a user would,
 * wait for a file to appear, and signal the process.
 *
 * @module
 */

import { join } from "node:path";
import { tinySmokeSettings } from "../_tiny_smoke.ts";

export const ROOT = new URL("../../", import.meta.url).pathname;

/** Permissions of the tests' own task runs: broad, so any folder works. */
const TEST_PERMISSIONS = [
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-sys",
  "--allow-ffi",
  "--allow-run=git",
];

/** Returns `deno run` arguments for `tasks/<task>.ts` with `args`. */
export function taskArgs(task: string, args: string[]): string[] {
  return ["run", ...TEST_PERMISSIONS, join(ROOT, `tasks/${task}.ts`), ...args];
}

/** Returns `--set` flags of the tiny smoke settings plus `extra`. */
export function tinySets(cacheDir: string, extra: string[] = []): string[] {
  return [...tinySmokeSettings(cacheDir), ...extra].flatMap((
    setting,
  ) => ["--set", setting]);
}

/** A finished process: exit code, signal and its decoded output. */
export interface Finished {
  code: number;
  signal: Deno.Signal | null;
  stdout: string;
  stderr: string;
}

/** Starts `deno` with `args` in the repository root, output piped. */
export function start(args: string[]): Deno.ChildProcess {
  return new Deno.Command("deno", {
    args,
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
}

/** Waits for a started process and decodes its output. */
export async function finish(child: Deno.ChildProcess): Promise<Finished> {
  const output = await child.output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    signal: output.signal,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** Runs `deno` with `args` to the end. */
export async function run(args: string[]): Promise<Finished> {
  return await finish(start(args));
}

/**
 * Polls every 5 ms until `ready` returns true, and returns true; returns
 * false when `child` ends first or after 120 s.
 */
export async function waitFor(
  child: Deno.ChildProcess,
  ready: () => Promise<boolean>,
): Promise<boolean> {
  let ended = false;
  child.status.then(() => ended = true);
  const deadline = Date.now() + 120_000;
  while (!ended && Date.now() < deadline) {
    if (await ready()) return true;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return false;
}

/** Returns whether a path exists. */
export async function present(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Counts the files under `dir` changed at or after `since` (ms epoch). */
export async function countFilesSince(
  dir: string,
  since: number,
): Promise<number> {
  let count = 0;
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(dir));
  } catch (error) {
    // The build may remove a folder while it is being counted.
    if (error instanceof Deno.errors.NotFound) return 0;
    throw error;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) {
      count += await countFilesSince(path, since);
      continue;
    }
    try {
      const info = await Deno.stat(path);
      if ((info.mtime?.getTime() ?? 0) >= since) count++;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  return count;
}
