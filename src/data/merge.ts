/**
 * `dataset:merge`: joins the parts of a sharded build (`dataset --shard i/n`
 * run on n machines or jobs) into the dataset a single build writes, with
 * the same manifest, labels and summary bytes. The parts must come from the
 * same inputs and cover every shard once; the source images are not needed.
 *
 * @module
 */

import { join } from "node:path";
import { canonicalJson } from "../config/load.ts";
import { exists, writeJsonAtomic } from "../fs.ts";
import { type Reporter, silentReporter } from "../report.ts";
import { type DatasetSummary, finalizeBuild } from "./build_finalize.ts";
import { BUILD_FORMAT, type PartRecord, readJson } from "./build_journal.ts";
import { DatasetError } from "./dataset_error.ts";
import { reportBuilt } from "./build.ts";

/**
 * Reads and checks the `part.json` of each folder.
 *
 * @returns The parts ordered by shard index.
 * @throws {DatasetError} When a folder contains no finished part, when the parts
 *   come from different inputs or shard counts, or when a shard is missing
 *   or given twice.
 */
export async function readParts(dirs: string[]): Promise<
  { dir: string; part: PartRecord }[]
> {
  if (dirs.length === 0) {
    throw new DatasetError(
      ".",
      "Cannot merge dataset parts: no part folders given: pass the folders that `deno task dataset --shard i/n` printed",
    );
  }
  const parts: { dir: string; part: PartRecord }[] = [];
  for (const dir of dirs) {
    const part = await readJson<PartRecord>(join(dir, "part.json"));
    if (part === null) {
      throw new DatasetError(
        dir,
        `Cannot merge dataset parts: "${dir}" has no part.json, so its part is unfinished or it is no part folder: finish it with the same \`deno task dataset --shard i/n\` command`,
      );
    }
    if (part.format !== BUILD_FORMAT) {
      throw new DatasetError(
        dir,
        `Cannot merge dataset parts: "${dir}" has build format ${part.format}, expected ${BUILD_FORMAT}: rebuild the part with this version`,
      );
    }
    parts.push({ dir, part });
  }

  // Every part must come from the same inputs and plan.
  const first = parts[0];
  const plan = canonicalJson(first.part.plan);
  for (const { dir, part } of parts.slice(1)) {
    if (part.fingerprint !== first.part.fingerprint) {
      throw new DatasetError(
        dir,
        `Cannot merge dataset parts: "${dir}" was built from other inputs than "${first.dir}" (fingerprint ${
          part.fingerprint.slice(0, 16)
        }, not ${
          first.part.fingerprint.slice(0, 16)
        }): build every part with the same config, seed and sources`,
      );
    }
    if (
      part.image_size !== first.part.image_size ||
      part.shard_bytes !== first.part.shard_bytes
    ) {
      throw new DatasetError(
        dir,
        `Cannot merge dataset parts: "${dir}" has image_size ${part.image_size} and shard_bytes ${part.shard_bytes}, "${first.dir}" has ${first.part.image_size} and ${first.part.shard_bytes}: build every part with the same config`,
      );
    }
    if (part.shard.count !== first.part.shard.count) {
      throw new DatasetError(
        dir,
        `Cannot merge dataset parts: "${dir}" is part ${part.shard.index}/${part.shard.count}, but "${first.dir}" is part ${first.part.shard.index}/${first.part.shard.count}: build every part with the same n in --shard i/n`,
      );
    }
    if (canonicalJson(part.plan) !== plan) {
      throw new DatasetError(
        dir,
        `Cannot merge dataset parts: the plan in "${dir}" differs from the one in "${first.dir}": rebuild the parts`,
      );
    }
  }

  // Every part 1..n must appear exactly once.
  const count = first.part.shard.count;
  const byIndex = new Map<number, string>();
  for (const { dir, part } of parts) {
    const other = byIndex.get(part.shard.index);
    if (other !== undefined) {
      throw new DatasetError(
        dir,
        `Cannot merge dataset parts: "${other}" and "${dir}" are both part ${part.shard.index}/${count}: pass each part once`,
      );
    }
    byIndex.set(part.shard.index, dir);
  }
  const missing = Array.from({ length: count }, (_, k) => k + 1)
    .filter((index) => !byIndex.has(index));
  if (missing.length > 0) {
    throw new DatasetError(
      first.dir,
      `Cannot merge dataset parts: part${missing.length > 1 ? "s" : ""} ${
        missing.map((index) => `${index}/${count}`).join(", ")
      } missing: build ${
        missing.length > 1 ? "them" : "it"
      } with \`deno task dataset --shard i/${count}\` and pass its folder`,
    );
  }
  return parts.sort((a, b) => a.part.shard.index - b.part.shard.index);
}

/**
 * Merges the parts into `outDir`, copying (or hard-linking) their images.
 * A merge that was stopped resumes: label folders already copied are kept.
 * An `outDir` that already contains this merge's manifest is left as it is.
 *
 * @returns The summary written to `summary.json`.
 * @throws {DatasetError} See {@linkcode readParts}.
 */
export async function mergeDatasetParts(
  partDirs: string[],
  outDir: string,
  reporter: Reporter = silentReporter,
): Promise<DatasetSummary> {
  const parts = await readParts(partDirs);
  const { fingerprint, plan } = parts[0].part;
  const stampPath = join(outDir, "build.json");
  const stamp = await readJson<{ fingerprint: string }>(stampPath);
  if (stamp?.fingerprint === fingerprint) {
    if (await exists(join(outDir, "manifest.jsonl"))) {
      reporter.info(`dataset: ${outDir} already holds this merge`);
      return (await readJson<DatasetSummary>(
        join(outDir, "summary.json"),
        true,
      ))!;
    }
  } else if (await exists(outDir)) {
    for (
      const name of [
        "manifest.jsonl",
        "summary.json",
        "labels.json",
        "images",
        "shards",
      ]
    ) {
      await Deno.remove(join(outDir, name), { recursive: true }).catch(
        () => {},
      );
    }
  }
  await Deno.mkdir(outDir, { recursive: true });
  await writeJsonAtomic(stampPath, {
    format: BUILD_FORMAT,
    fingerprint,
    shard: { index: 1, count: 1 },
  });
  reporter.info(
    `dataset: merging ${parts.length} parts of ${plan.identities.length} identities into ${outDir}`,
  );
  const summary = await finalizeBuild(
    outDir,
    plan,
    parts.map(({ dir, part }) => ({ dir, ...part.shard })),
    {
      imageSize: parts[0].part.image_size,
      shardBytes: parts[0].part.shard_bytes,
      reporter,
    },
  );
  reportBuilt(summary, reporter, summary.no_face.length > 0);
  return summary;
}
