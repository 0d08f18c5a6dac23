/**
 * The on-disk state of a dataset build in progress, which lets a killed build
 * resume: `build.json` names the inputs, `staging/<identity index>/` contains an
 * identity's finished PNG files, and `journal/<identity index>.json` is
 * written atomically after them, so its presence marks the identity done.
 * A part of a sharded build ends with `part.json`.
 *
 * @module
 */

import { join } from "node:path";
import { exists, writeFileAtomic, writeJsonAtomic } from "../fs.ts";
import type { IdentityResult, UnreadableImage } from "./build_identity.ts";
import type { BuildPlan, ShardSpec } from "./build_plan.ts";
import type { Operation, RuleName } from "./rules.ts";

/** Version of the folder layout; a build of another version is not resumed. */
export const BUILD_FORMAT = 1;

/** `build.json`: the inputs an unfinished build folder belongs to. */
export interface BuildStamp {
  format: number;
  /** SHA-256 of the inputs (see `buildFingerprint`). */
  fingerprint: string;
  shard: ShardSpec;
}

/** `journal/<index>.json`: one finished identity. */
export interface IdentityRecord {
  name: string;
  outputs: {
    file: string;
    source: string;
    operation: Operation;
    sha256: string;
  }[];
  unreadable: UnreadableImage[];
  no_face: string[];
}

/** The plan as a part records it, without the selected sources. */
export interface PartPlan extends Omit<BuildPlan, "jobs"> {
  /** The identities a rule keeps, in name order. */
  identities: { index: number; name: string; rule: RuleName }[];
}

/** `part.json`: a finished part of a sharded build. */
export interface PartRecord extends BuildStamp {
  /** `dataset.image_size` and `dataset.shard_bytes`, which the merge needs. */
  image_size: number;
  shard_bytes: number;
  plan: PartPlan;
}

/** Returns the zero-padded name of an identity's staging folder and record. */
export function identityKey(index: number): string {
  return String(index).padStart(7, "0");
}

/** Returns the path of an identity's record in a build folder. */
export function recordPath(dir: string, index: number): string {
  return join(dir, "journal", `${identityKey(index)}.json`);
}

/** Returns the staging folder of an identity in a build folder. */
export function stagingPath(dir: string, index: number): string {
  return join(dir, "staging", identityKey(index));
}

/** Drops the selected sources from a plan, for `part.json`. */
export function partPlan(plan: BuildPlan): PartPlan {
  const { jobs, ...counts } = plan;
  return {
    ...counts,
    identities: jobs.map(({ index, name, rule }) => ({ index, name, rule })),
  };
}

/** Names of the files a build writes in its folder, removed by a fresh build. */
const BUILD_OUTPUTS = [
  "manifest.jsonl",
  "build.json",
  "part.json",
  "summary.json",
  "labels.json",
  "images",
  "shards",
  "staging",
  "journal",
];

/**
 * Prepares a build folder. A folder stamped with the same fingerprint and
 * shard whose build did not finish is resumed: its stale temporary files and
 * the staging folders of unfinished identities are removed. Any other folder
 * has its earlier build outputs removed, manifest first.
 *
 * @returns The indices of the identities already done.
 */
export async function openBuildFolder(
  dir: string,
  stamp: BuildStamp,
): Promise<Set<number>> {
  const previous = await readJson<BuildStamp>(join(dir, "build.json"));
  const finished = await exists(join(dir, "manifest.jsonl")) ||
    await exists(join(dir, "part.json"));
  const resumable = previous !== null && !finished &&
    previous.format === stamp.format &&
    previous.fingerprint === stamp.fingerprint &&
    previous.shard.index === stamp.shard.index &&
    previous.shard.count === stamp.shard.count;
  if (!resumable) {
    for (const name of BUILD_OUTPUTS) {
      await Deno.remove(join(dir, name), { recursive: true })
        .catch(ignoreNotFound);
    }
    await removeTemporaryFiles(dir);
    await writeJsonAtomic(join(dir, "build.json"), stamp);
    return new Set();
  }

  const done = new Set<number>();
  for await (const entry of readDirIfPresent(join(dir, "journal"))) {
    const match = /^(\d{7})\.json$/.exec(entry.name);
    if (match) done.add(Number(match[1]));
  }
  await removeTemporaryFiles(dir);
  await removeTemporaryFiles(join(dir, "journal"));
  for await (const entry of readDirIfPresent(join(dir, "staging"))) {
    if (!done.has(Number(entry.name))) {
      await Deno.remove(join(dir, "staging", entry.name), { recursive: true });
    }
  }
  return done;
}

/**
 * Writes a finished identity: its PNG files into its staging folder, then
 * its record. Each file is written atomically, so a kill leaves either no
 * record, and the identity is redone, or every file.
 *
 * @throws {InputError} When a file cannot be written, naming it.
 */
export async function writeIdentity(
  dir: string,
  result: IdentityResult,
): Promise<IdentityRecord> {
  const staging = stagingPath(dir, result.index);
  await Deno.mkdir(staging, { recursive: true });
  for (const output of result.outputs) {
    await writeFileAtomic(join(staging, output.file), output.png);
  }
  const record: IdentityRecord = {
    name: result.name,
    outputs: result.outputs.map(({ file, source, operation, sha256 }) => ({
      file,
      source,
      operation,
      sha256,
    })),
    unreadable: result.unreadable,
    no_face: result.noFace,
  };
  await writeJsonAtomic(recordPath(dir, result.index), record);
  return record;
}

/**
 * Reads an identity's record from a build folder.
 *
 * @throws {SyntaxError} When the record is not JSON or names another identity.
 * @throws {Deno.errors.NotFound} When the identity was not finished there.
 */
export async function readIdentityRecord(
  dir: string,
  index: number,
  name: string,
): Promise<IdentityRecord> {
  const path = recordPath(dir, index);
  const record = await readJson<IdentityRecord>(path, true);
  if (record?.name !== name || !Array.isArray(record.outputs)) {
    throw new SyntaxError(
      `Cannot read build record "${path}": expected identity "${name}", got ${
        JSON.stringify(record?.name)
      }: rebuild the dataset`,
    );
  }
  return record;
}

/**
 * Reads a JSON file, or returns null when it is missing (unless `required`).
 *
 * @throws {SyntaxError} When the file is not JSON, naming it.
 */
export async function readJson<T>(
  path: string,
  required = false,
): Promise<T | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound && !required) return null;
    throw error;
  }
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new SyntaxError(
      `Cannot parse "${path}": ${(error as Error).message}`,
    );
  }
}

/** Removes the `*.tmp-<pid>-<n>` files an earlier, killed process left. */
export async function removeTemporaryFiles(dir: string): Promise<void> {
  for await (const entry of readDirIfPresent(dir)) {
    if (entry.name.includes(".tmp-")) {
      await Deno.remove(join(dir, entry.name), { recursive: true });
    }
  }
}

async function* readDirIfPresent(dir: string): AsyncIterable<Deno.DirEntry> {
  try {
    yield* Deno.readDir(dir);
  } catch (error) {
    ignoreNotFound(error);
  }
}

function ignoreNotFound(error: unknown): void {
  if (!(error instanceof Deno.errors.NotFound)) throw error;
}
