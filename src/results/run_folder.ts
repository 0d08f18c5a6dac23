/**
 * Run folders: `results/<run-id>/`, created exclusively so that two runs
 * never write into one folder and a finished run is never overwritten.
 *
 * @module
 */

import { InputError } from "../errors.ts";
import { join } from "node:path";

/** A run folder that already exists; the new run stops before any work. */
export class RunExistsError extends Error {
  constructor(path: string) {
    super(
      `Cannot create run folder "${path}": it already exists: choose another --run-id, or omit it for a new timestamped id`,
    );
    this.name = "RunExistsError";
  }
}

/** Formats a date as the run-id timestamp `yyyymmddThhmmssZ` (UTC). */
export function runTimestamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

/**
 * Returns the default run id, `<UTC yyyymmddThhmmssZ>-<profile>-<first 8 hex
 * of the config hash>`.
 */
export function defaultRunId(
  date: Date,
  profile: string,
  configSha256: string,
): string {
  return `${runTimestamp(date)}-${profile}-${configSha256.slice(0, 8)}`;
}

/**
 * Checks that a run id is a plain folder name of at most 200 characters.
 *
 * @throws {RangeError} Naming the id and the allowed characters.
 */
export function checkRunId(runId: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/.test(runId)) {
    throw new RangeError(
      `Invalid run id "${runId}": use up to 200 letters, digits, ".", "_" and "-", starting with a letter or digit`,
    );
  }
}

/**
 * Creates `<resultsDir>/<runId>/` and its `artifacts/` folder.
 *
 * The run folder itself is made with a non-recursive mkdir, which fails when
 * the folder exists, so of two runs started at once with the same id exactly
 * one proceeds.
 *
 * @throws {RunExistsError} When the folder exists.
 * @throws {RangeError} When the run id is not a plain folder name.
 */
export async function createRunFolder(
  resultsDir: string,
  runId: string,
): Promise<string> {
  checkRunId(runId);
  await Deno.mkdir(resultsDir, { recursive: true });
  const path = join(resultsDir, runId);
  try {
    await Deno.mkdir(path);
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) {
      throw new RunExistsError(path);
    }
    throw error;
  }
  await Deno.mkdir(join(path, "artifacts"));
  return path;
}

/**
 * Returns an existing run folder for `--resume` or a later stage.
 *
 * @throws {Error} When the folder or its config.yaml is missing.
 */
export async function openRunFolder(path: string): Promise<string> {
  try {
    await Deno.stat(join(path, "config.yaml"));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new InputError(
        `Cannot open run folder "${path}": no config.yaml there: pass a folder made by a previous run`,
      );
    }
    throw error;
  }
  return path;
}
