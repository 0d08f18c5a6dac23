/**
 * Stage 1 of the pipeline: builds the training set from the configured
 * sources by the dataset recipe. With the default thresholds it caps
 * identities at 350 images, pads small ones with opened and noisy copies and
 * drops those with 30 or fewer. The images are resized to the network input
 * and written as PNG files with a hashed manifest and packed shards.
 *
 * Identities are processed by a pool of Deno workers (build_worker.ts), each
 * finished identity is recorded on disk, so a killed build resumes where it
 * stopped, and `--shard i/n` builds a part of the identities that
 * `dataset:merge` joins later (merge.ts).
 *
 * @module
 */

import type { DatasetConfig, MtcnnConfig } from "../config/types.ts";
import { mapPool } from "./_pool.ts";
import { writeJsonAtomic } from "../fs.ts";
import { type Reporter, silentReporter } from "../report.ts";
import {
  BUILD_FORMAT,
  type BuildStamp,
  openBuildFolder,
  partPlan,
  type PartRecord,
  writeIdentity,
} from "./build_journal.ts";
import { type DatasetSummary, finalizeBuild } from "./build_finalize.ts";
import {
  buildFingerprint,
  type BuildPlan,
  planBuild,
  shardOf,
  type ShardSpec,
} from "./build_plan.ts";
import { BuildPool, resolveWorkerCount } from "./build_pool.ts";
import { formatRuleTable } from "./rule_table.ts";
import { listSources } from "./sources/list.ts";
import { join } from "node:path";

export { loadTrainingSet } from "./manifest.ts";
export type { DatasetSummary } from "./build_finalize.ts";
export type { UnreadableImage } from "./build_identity.ts";

/** Options of {@linkcode buildDataset} and {@linkcode buildDatasetPart}. */
export interface BuildOptions {
  /** The run seed; sampling and noise derive their generators from it. */
  seed: number;
  /**
   * The folder to write. An unfinished build of the same inputs there is
   * resumed; the outputs of any other build there are removed first.
   */
  outDir: string;
  reporter?: Reporter;
  /** Build workers; `dataset.workers` when absent (0: one per core). */
  workers?: number;
  /**
   * MTCNN settings when `dataset.detect` is `mtcnn`: each worker loads the
   * pretrained aligner from `assetsDir` and aligns every source at
   * `image_size` before the rule's operations.
   */
  detection?: { assetsDir: string; mtcnn: MtcnnConfig };
  /**
   * SHA-256 of the inputs as the caller keys them; a resumed build and the
   * parts of a merge must match it. By default, a hash of the config, the
   * seed and the source listing (see `buildFingerprint`).
   */
  inputSha256?: string;
}

/**
 * Builds the training set from `config.roots`.
 *
 * Each identity's rule is decided by n, the number of images listed for it
 * (see `ruleFor`). A selected source that cannot be read or decoded is
 * skipped and listed in `unreadable`, so it still counts towards n and is not
 * replaced in a sample. Kept identities get labels 0..K-1 in name order,
 * skipping any whose selected images all failed.
 *
 * Writes, under `outDir`:
 * - `images/<label, 6 digits>/<source stem>_<operation>.png`, where operation
 *   is original, opened, gaussian or salt_pepper; a stem shared by two sources
 *   of one identity (`a.jpg` and `a.png`) gets the extension appended;
 * - `labels.json`: identity names indexed by label;
 * - `summary.json`: the `DatasetSummary`;
 * - `shards/`: the images packed for training (see pack.ts);
 * - `build.json`: the fingerprint of the inputs;
 * - `manifest.jsonl`: one `ManifestEntry` per image, written last, so a
 *   build that stops early leaves no manifest.
 *
 * The sample of an identity comes from `deriveRng(seed,
 * "dataset/sample/<identity>")` and the noise of a source from
 * `deriveRng(seed, "dataset/noise/<identity>/<source name>")`, and labels are
 * assigned after every identity is done, so the manifest is byte-identical
 * for any worker count, order or interruption.
 *
 * @param config The dataset section of the configuration.
 * @param options Seed, output folder, reporter and workers.
 * @returns The summary that was written to `summary.json`.
 * @throws {DatasetError} When listing the sources fails (see `listSources`).
 * @throws {BuildWorkerError} When a worker cannot start or an identity fails
 *   for another reason than an unreadable image; finished identities are
 *   kept for the next run.
 * @throws {InputError} When an output cannot be written, naming the file.
 *
 * @example Build from one folder
 * ```ts ignore
 * import { buildDataset } from "./build.ts";
 * const summary = await buildDataset(config.dataset, {
 *   seed: config.seed,
 *   outDir: "cache/datasets/att",
 * });
 * console.log(summary.identities_kept, summary.images_out);
 * ```
 */
export async function buildDataset(
  config: DatasetConfig,
  options: BuildOptions,
): Promise<DatasetSummary> {
  const reporter = options.reporter ?? silentReporter;
  const { plan, stamp } = await buildIdentities(config, {
    ...options,
    shard: { index: 1, count: 1 },
  });
  const summary = await finalizeBuild(
    options.outDir,
    partPlan(plan),
    [{ dir: options.outDir, ...stamp.shard }],
    { imageSize: config.image_size, shardBytes: config.shard_bytes, reporter },
  );
  await removeJournal(options.outDir);
  reportBuilt(summary, reporter, options.detection !== undefined);
  return summary;
}

/**
 * Builds the identities of one shard (`--shard i/n`) into `outDir` and
 * writes `part.json` once they are all done. `dataset:merge` joins the parts
 * of all n shards into the dataset that {@linkcode buildDataset} writes.
 *
 * An identity belongs to shard `shardOf(name, n)`, so the parts are disjoint,
 * cover every identity, and do not depend on the machine that builds them.
 *
 * @returns The record written to `part.json`.
 * @throws {RangeError} When the shard is not `i/n` with 1 <= i <= n.
 */
export async function buildDatasetPart(
  config: DatasetConfig,
  options: BuildOptions & { shard: ShardSpec },
): Promise<PartRecord> {
  const { index, count } = options.shard;
  if (!(Number.isInteger(index) && index >= 1 && index <= count)) {
    throw new RangeError(
      `Cannot build dataset part: shard ${index}/${count} is not i/n with 1 <= i <= n`,
    );
  }
  const { plan, stamp } = await buildIdentities(config, options);
  const part: PartRecord = {
    ...stamp,
    image_size: config.image_size,
    shard_bytes: config.shard_bytes,
    plan: partPlan(plan),
  };
  await writeJsonAtomic(join(options.outDir, "part.json"), part);
  (options.reporter ?? silentReporter).info(
    `dataset: part ${index}/${count} complete in ${options.outDir}`,
  );
  return part;
}

/** Lists, plans and processes the identities of one shard. */
async function buildIdentities(
  config: DatasetConfig,
  options: BuildOptions & { shard: ShardSpec },
): Promise<{ plan: BuildPlan; stamp: BuildStamp }> {
  const { seed, outDir, shard } = options;
  const reporter = options.reporter ?? silentReporter;

  // List and plan before touching the output.
  const listing = await listSources(config.roots, config.extensions);
  const plan = await planBuild(listing, config, seed);
  const stamp: BuildStamp = {
    format: BUILD_FORMAT,
    fingerprint: options.inputSha256 ??
      buildFingerprint(listing, config, seed),
    shard,
  };
  const done = await openBuildFolder(outDir, stamp);

  const mine = plan.jobs.filter((job) =>
    shardOf(job.name, shard.count) === shard.index
  );
  const todo = mine.filter((job) => !done.has(job.index));
  const imagesTotal = mine.reduce((sum, job) => sum + job.images.length, 0);
  let imagesDone = imagesTotal -
    todo.reduce((sum, job) => sum + job.images.length, 0);
  let identitiesDone = mine.length - todo.length;
  const part = shard.count > 1 ? ` (part ${shard.index}/${shard.count})` : "";
  reporter.info(
    `dataset: ${plan.identities_in} identities, ${plan.images_in} images found; ${imagesTotal} images of ${mine.length} identities selected${part}` +
      (identitiesDone > 0
        ? `; resuming with ${identitiesDone} identities already done`
        : ""),
  );

  const bar = reporter.progress("dataset", imagesTotal, "images");
  const showProgress = () =>
    bar.update(imagesDone, `identities ${identitiesDone}/${mine.length}`);
  if (todo.length > 0) {
    const workers = Math.min(
      resolveWorkerCount(options.workers ?? config.workers),
      todo.length,
    );
    const pool = await BuildPool.start(workers, {
      config,
      seed,
      detection: options.detection,
    }, () => {
      imagesDone++;
      showProgress();
    });
    try {
      await mapPool(todo, pool.capacity, async (job) => {
        const result = await pool.run(job);
        await writeIdentity(outDir, result);
        for (const skipped of result.unreadable) {
          reporter.record({ event: "dataset_unreadable", ...skipped });
        }
        for (const path of result.noFace) {
          reporter.record({ event: "dataset_no_face", path });
        }
        identitiesDone++;
        showProgress();
      });
    } finally {
      pool.close();
    }
  } else {
    showProgress();
  }
  return { plan, stamp };
}

/** Removes the per-identity records once the manifest marks the build done. */
async function removeJournal(outDir: string): Promise<void> {
  for (const name of ["journal", "staging"]) {
    await Deno.remove(join(outDir, name), { recursive: true }).catch(
      (error) => {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      },
    );
  }
}

/** Reports the counts of a finished build: a record, a line and the table. */
export function reportBuilt(
  summary: DatasetSummary,
  reporter: Reporter,
  detection: boolean,
): void {
  reporter.record({
    event: "dataset_built",
    identities_in: summary.identities_in,
    images_in: summary.images_in,
    identities_kept: summary.identities_kept,
    images_out: summary.images_out,
    by_rule: summary.by_rule,
    unreadable: summary.unreadable.length,
    manifest_sha256: summary.manifest_sha256,
  });
  reporter.info(formatRuleTable(summary));
  reporter.info(
    `dataset: ${summary.identities_kept} identities, ${summary.images_out} images written; ${summary.unreadable.length} unreadable${
      detection ? `, ${summary.no_face.length} without a face` : ""
    }`,
  );
}
