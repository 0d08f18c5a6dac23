/**
 * Stage 1 of a run: the training set, built once per distinct input and
 * reused from the dataset cache when a complete build with the same inputs
 * is there.
 *
 * @module
 */

import { join } from "node:path";
import { canonicalJson } from "../config/load.ts";
import type { Config, RootConfig } from "../config/types.ts";
import {
  buildDataset,
  buildDatasetPart,
  type DatasetSummary,
} from "../data/build.ts";
import { BUILD_FORMAT, type PartRecord } from "../data/build_journal.ts";
import type { ShardSpec } from "../data/build_plan.ts";
import { formatRuleTable } from "../data/rule_table.ts";
import { listSources, refLabel, rootInputPaths } from "../data/sources/list.ts";
import { type SyntheticSet, writeSyntheticSet } from "../data/synthetic.ts";
import { exists, withFileLock, writeTextAtomic } from "../fs.ts";
import { sha256Hex } from "../hash.ts";
import type { Reporter } from "../report.ts";
import { PINS, requireAssets } from "../pretrained/assets.ts";

/** Location and contents of a built training set. */
export interface DatasetStageResult {
  /** Folder with manifest.jsonl, labels.json, summary.json and images/. */
  dir: string;
  summary: DatasetSummary;
  /** The held-out synthetic evaluation set, when the profile generates one. */
  synthetic: { evalRoot: string; pairsPath: string } | null;
  /** True when the build was found complete in the cache. */
  skipped: boolean;
  /** SHA-256 of the inputs that key the cache entry. */
  inputSha256: string;
}

async function removeIfPresent(path: string): Promise<void> {
  try {
    await Deno.remove(path, { recursive: true });
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/**
 * Hashes what determines a build: the dataset config without `workers`,
 * which changes only the speed, the seed, the build format, and every source
 * image's path, size and modification time. A RecordIO root contributes each
 * record's key and offset and the size and time of its files.
 */
async function inputHash(config: Config, roots: RootConfig[]): Promise<string> {
  const { identities } = await listSources(roots, config.dataset.extensions);
  const listing: string[] = [];
  for (const identity of identities) {
    for (const ref of identity.images) {
      if (ref.kind === "file") {
        const info = await Deno.stat(ref.path);
        listing.push(
          `${identity.name}\t${ref.path}\t${info.size}\t${
            info.mtime?.getTime() ?? 0
          }`,
        );
      } else {
        listing.push(`${identity.name}\t${refLabel(ref)}\t${ref.offset}`);
      }
    }
  }
  // A record file is keyed once, by the size and time of the .rec and .idx.
  for (const root of roots.filter((r) => r.format === "recordio")) {
    for (const path of rootInputPaths(root)) {
      const info = await Deno.stat(path);
      listing.push(`${path}\t${info.size}\t${info.mtime?.getTime() ?? 0}`);
    }
  }
  const listingSha = await sha256Hex(listing.join("\n"));
  // Detection settings and weights key the cache only when detection runs,
  // so builds of aligned sources keep their keys.
  const detection = config.dataset.detect === "mtcnn"
    ? { mtcnn: config.mtcnn, weights: PINS.files }
    : {};
  const { workers: _workers, ...dataset } = config.dataset;
  return sha256Hex(
    canonicalJson({
      dataset: { ...dataset, roots },
      build_format: BUILD_FORMAT,
      seed: config.seed,
      listingSha,
      ...detection,
    }),
  );
}

/**
 * Generates the synthetic faces of `dataset.synthetic` into the dataset
 * cache, once per settings and seed, and returns where they are.
 *
 * @throws {RangeError} When the config has no `dataset.synthetic`.
 */
export async function prepareSyntheticSet(
  config: Config,
  reporter: Reporter,
): Promise<SyntheticSet> {
  if (config.dataset.synthetic === null) {
    throw new RangeError(
      "Cannot generate synthetic faces: dataset.synthetic is not set",
    );
  }
  const key = await sha256Hex(
    canonicalJson({ synthetic: config.dataset.synthetic, seed: config.seed }),
  );
  const dir = join(config.dataset.cache_dir, `synthetic-${key.slice(0, 16)}`);
  const done = join(dir, "complete.json");
  const synthetic = config.dataset.synthetic;
  // Locked, so a second run with the same settings waits and then reuses it.
  return await withFileLock(`${dir}.lock`, async () => {
    if (await exists(done)) {
      reporter.info(`synthetic faces: reusing ${dir} (same settings and seed)`);
      return {
        trainRoot: join(dir, "train"),
        evalRoot: join(dir, "eval"),
        pairsPath: join(dir, "eval", "pairs.txt"),
      };
    }
    await removeIfPresent(dir);
    const set = await writeSyntheticSet(synthetic, {
      seed: config.seed,
      outDir: dir,
      reporter,
    });
    await writeTextAtomic(done, JSON.stringify({ key }) + "\n");
    return set;
  });
}

/** Resolves the roots of a config, generating the synthetic faces first. */
async function resolveRoots(
  config: Config,
  reporter: Reporter,
): Promise<
  { roots: RootConfig[]; synthetic: DatasetStageResult["synthetic"] }
> {
  if (config.dataset.synthetic === null) {
    return { roots: config.dataset.roots, synthetic: null };
  }
  const set = await prepareSyntheticSet(config, reporter);
  return {
    roots: [{ path: set.trainRoot, prefix: "", identities: null }],
    synthetic: { evalRoot: set.evalRoot, pairsPath: set.pairsPath },
  };
}

/**
 * Returns the MTCNN settings of a build with `dataset.detect: mtcnn`, once the
 * pinned weights are found in place.
 */
async function detectionOf(
  config: Config,
): Promise<{ assetsDir: string; mtcnn: Config["mtcnn"] } | undefined> {
  if (config.dataset.detect !== "mtcnn") return undefined;
  // Checked here, so a missing download stops the stage with its message
  // before any worker starts.
  await requireAssets(config.assets.dir);
  return { assetsDir: config.assets.dir, mtcnn: config.mtcnn };
}

/** Returns the cache folder of a complete build of these inputs. */
function datasetDir(config: Config, key: string): string {
  return join(config.dataset.cache_dir, `dataset-${key.slice(0, 16)}`);
}

/**
 * Builds the training set of a config, or reuses the cached build.
 *
 * With `dataset.synthetic` set, the synthetic faces are generated first
 * (also cached, keyed by the synthetic settings and the seed) and their
 * training identities become the dataset root. An unfinished build of the
 * same inputs in the cache, such as one killed part-way, is resumed.
 */
export async function runDatasetStage(
  config: Config,
  reporter: Reporter,
): Promise<DatasetStageResult> {
  const { roots, synthetic } = await resolveRoots(config, reporter);

  // build, unless a complete build of the same inputs is cached
  const key = await inputHash(config, roots);
  const dir = datasetDir(config, key);
  // The build writes manifest.jsonl last: its presence marks a complete build.
  const summaryPath = join(dir, "summary.json");
  // Locked, so two runs of the same inputs never build into one folder at
  // once: the second waits and then reuses the first one's build.
  return await withFileLock(`${dir}.lock`, async () => {
    if (await exists(join(dir, "manifest.jsonl"))) {
      reporter.info(`dataset: reusing ${dir} (inputs unchanged)`);
      const summary = JSON.parse(
        await Deno.readTextFile(summaryPath),
      ) as DatasetSummary;
      reporter.info(formatRuleTable(summary));
      return { dir, summary, synthetic, skipped: true, inputSha256: key };
    }
    const summary = await buildDataset({ ...config.dataset, roots }, {
      seed: config.seed,
      outDir: dir,
      reporter,
      detection: await detectionOf(config),
      inputSha256: key,
    });
    return { dir, summary, synthetic, skipped: false, inputSha256: key };
  });
}

/**
 * Builds one part of the training set (`--shard i/n`) into
 * `<cache_dir>/dataset-<key>-part<i>of<n>`, or finds it finished there.
 *
 * @returns The part folder and its record.
 */
export async function runDatasetPartStage(
  config: Config,
  reporter: Reporter,
  shard: ShardSpec,
): Promise<{ dir: string; part: PartRecord; skipped: boolean }> {
  const { roots } = await resolveRoots(config, reporter);
  const key = await inputHash(config, roots);
  const dir = `${datasetDir(config, key)}-part${shard.index}of${shard.count}`;
  return await withFileLock(`${dir}.lock`, async () => {
    const partPath = join(dir, "part.json");
    if (await exists(partPath)) {
      reporter.info(`dataset: reusing part ${dir} (inputs unchanged)`);
      const part = JSON.parse(await Deno.readTextFile(partPath)) as PartRecord;
      return { dir, part, skipped: true };
    }
    const part = await buildDatasetPart({ ...config.dataset, roots }, {
      seed: config.seed,
      outDir: dir,
      reporter,
      detection: await detectionOf(config),
      inputSha256: key,
      shard,
    });
    return { dir, part, skipped: false };
  });
}
