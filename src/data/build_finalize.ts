/**
 * The last step of a dataset build, run once every identity is done, by the
 * build itself or by `dataset:merge` over the parts of a sharded build. It
 * gives labels in name order and moves the images to their label folders,
 * then writes labels.json, summary.json, the packed shards and, last,
 * manifest.jsonl. Every step can run again after a kill, so a stopped finish
 * resumes.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { join } from "node:path";
import { InputError } from "../errors.ts";
import { exists, writeJsonAtomic } from "../fs.ts";
import type { Reporter } from "../report.ts";
import type { UnreadableImage } from "./build_identity.ts";
import {
  type IdentityRecord,
  type PartPlan,
  readIdentityRecord,
  removeTemporaryFiles,
  stagingPath,
} from "./build_journal.ts";
import { ruleCounts, shardOf } from "./build_plan.ts";
import { formatManifest, type ManifestEntry } from "./manifest.ts";
import { packShards } from "./pack.ts";
import type { RuleName } from "./rules.ts";

/** The counts of a build, written to `summary.json`. */
export interface DatasetSummary {
  /** Identity folders found, including empty ones. */
  identities_in: number;
  /** Image files found, over all identities. */
  images_in: number;
  /** Identities with at least one output image, labelled 0..K-1. */
  identities_kept: number;
  /** Output images, the lines of manifest.jsonl. */
  images_out: number;
  /** Identities per rule, decided on the count of image files found. */
  by_rule: Record<RuleName, number>;
  /** Selected source images that failed to read or decode and were skipped. */
  unreadable: UnreadableImage[];
  /** Identity folders without image files (counted as dropped). */
  empty_identities: string[];
  /** Identities a rule kept whose selected images all failed to decode. */
  unreadable_identities: string[];
  /** Selected images where face detection found no face, skipped like unreadable ones. */
  no_face: string[];
  /** Images found per rule, over the identities of each rule. */
  images_in_by_rule: Record<RuleName, number>;
  /** Output images per rule. */
  images_out_by_rule: Record<RuleName, number>;
  /** Listing entries the sources found but could not use. */
  listing_skipped: { path: string; reason: string }[];
  /** SHA-256 of the bytes of manifest.jsonl. */
  manifest_sha256: string;
}

/** A folder of finished identities and the shard it built. */
export interface FinishedPart {
  dir: string;
  /** 1-based shard index among `count`. */
  index: number;
  count: number;
}

/** Options of {@linkcode finalizeBuild}. */
export interface FinalizeOptions {
  /** Side of the output images in pixels, recorded in the shard index. */
  imageSize: number;
  /** Bytes per packed shard file (`dataset.shard_bytes`). */
  shardBytes: number;
  reporter: Reporter;
}

/** Manifest bytes collected before one append to the temporary file. */
const MANIFEST_CHUNK_BYTES = 1 << 20;

/**
 * Assigns labels, places the images and writes the dataset files into
 * `outDir`.
 *
 * Labels 0..K-1 go to the identities with at least one output, in name
 * order, so they do not depend on which process or worker built what. An
 * identity's staging folder is renamed to `images/<label, 6 digits>` when its
 * part is `outDir` itself, and copied (hard-linked where the file system
 * allows) from a part folder elsewhere.
 *
 * @param parts Folders holding the identity records, one per shard.
 * @returns The summary written to `summary.json`.
 * @throws {Deno.errors.NotFound} When an identity has no record in its part.
 */
export async function finalizeBuild(
  outDir: string,
  plan: PartPlan,
  parts: FinishedPart[],
  options: FinalizeOptions,
): Promise<DatasetSummary> {
  const { reporter } = options;
  await Deno.mkdir(join(outDir, "images"), { recursive: true });
  await removeTemporaryFiles(outDir);
  await removeTemporaryFiles(join(outDir, "images"));

  const manifestTemp = join(outDir, `manifest.jsonl.tmp-${Deno.pid}`);
  const hash = createHash("sha256");
  const encoder = new TextEncoder();
  let chunk = "";
  const flush = async () => {
    const bytes = encoder.encode(chunk);
    hash.update(bytes);
    try {
      await Deno.writeFile(manifestTemp, bytes, { append: true });
    } catch (error) {
      throw new InputError(
        `Cannot write file "${manifestTemp}": ${(error as Error).message}`,
        { cause: error },
      );
    }
    chunk = "";
  };

  const labels: string[] = [];
  const unreadable: UnreadableImage[] = [];
  const noFace: string[] = [];
  const unreadableIdentities: string[] = [];
  const outByRule = ruleCounts();
  let imagesOut = 0;
  const bar = reporter.progress(
    "dataset labels",
    plan.identities.length,
    "identities",
  );
  try {
    await flush();
    for (const [done, identity] of plan.identities.entries()) {
      const part = parts[shardOf(identity.name, parts.length) - 1];
      const record = await readIdentityRecord(
        part.dir,
        identity.index,
        identity.name,
      );
      unreadable.push(...record.unreadable);
      noFace.push(...record.no_face);
      if (record.outputs.length === 0) {
        unreadableIdentities.push(identity.name);
      } else {
        const label = labels.length;
        labels.push(identity.name);
        const folder = `images/${String(label).padStart(6, "0")}`;
        const place = part.dir === outDir ? moveIdentity : copyIdentity;
        await place(
          stagingPath(part.dir, identity.index),
          join(outDir, folder),
          record,
        );
        chunk += formatManifest(manifestEntries(record, folder, label));
        outByRule[identity.rule] += record.outputs.length;
        imagesOut += record.outputs.length;
        if (chunk.length >= MANIFEST_CHUNK_BYTES) await flush();
      }
      bar.update(done + 1);
    }
    await flush();
  } catch (error) {
    await Deno.remove(manifestTemp).catch(() => {});
    throw error;
  }
  if (plan.identities.length === 0) bar.update(0);

  const manifestSha256 = hash.digest("hex");
  const summary: DatasetSummary = {
    identities_in: plan.identities_in,
    images_in: plan.images_in,
    identities_kept: labels.length,
    images_out: imagesOut,
    by_rule: plan.by_rule,
    unreadable,
    empty_identities: plan.empty_identities,
    unreadable_identities: unreadableIdentities,
    no_face: noFace,
    images_in_by_rule: plan.images_in_by_rule,
    images_out_by_rule: outByRule,
    listing_skipped: plan.listing_skipped,
    manifest_sha256: manifestSha256,
  };
  try {
    await writeJsonAtomic(join(outDir, "labels.json"), labels);
    await writeJsonAtomic(join(outDir, "summary.json"), summary);
    await packShards(outDir, manifestTemp, {
      imageSize: options.imageSize,
      images: imagesOut,
      shardBytes: options.shardBytes,
      classes: labels.length,
      manifestSha256,
      reporter,
    });
    // The manifest goes last: its presence marks a complete build.
    await Deno.rename(manifestTemp, join(outDir, "manifest.jsonl"));
  } catch (error) {
    await Deno.remove(manifestTemp).catch(() => {});
    throw error;
  }
  return summary;
}

/** Returns the manifest entries of an identity's outputs, in record order. */
function manifestEntries(
  record: IdentityRecord,
  folder: string,
  label: number,
): ManifestEntry[] {
  return record.outputs.map((output) => ({
    path: `${folder}/${output.file}`,
    identity: record.name,
    label,
    source: output.source,
    operation: output.operation,
    sha256: output.sha256,
  }));
}

/**
 * Renames an identity's staging folder to its label folder. A label folder
 * that exists was renamed there by an earlier, interrupted finish.
 *
 * @throws {Deno.errors.NotFound} When neither folder exists.
 */
async function moveIdentity(
  staging: string,
  target: string,
  record: IdentityRecord,
): Promise<void> {
  if (await exists(target)) return;
  try {
    await Deno.rename(staging, target);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    throw new Deno.errors.NotFound(
      `Cannot finish dataset build: staging folder "${staging}" of identity "${record.name}" is missing: rebuild the dataset`,
    );
  }
}

/**
 * Copies an identity's files from a part folder into a new label folder,
 * hard-linking each file when both folders are on one file system. The
 * folder is filled under a temporary name and then renamed, so a label
 * folder that exists is complete.
 */
async function copyIdentity(
  staging: string,
  target: string,
  record: IdentityRecord,
): Promise<void> {
  if (await exists(target)) return;
  const temporary = `${target}.tmp-${Deno.pid}`;
  await Deno.remove(temporary, { recursive: true }).catch(() => {});
  await Deno.mkdir(temporary, { recursive: true });
  for (const output of record.outputs) {
    const from = join(staging, output.file);
    const to = join(temporary, output.file);
    try {
      await Deno.link(from, to);
    } catch {
      await Deno.copyFile(from, to);
    }
  }
  await Deno.rename(temporary, target);
}
