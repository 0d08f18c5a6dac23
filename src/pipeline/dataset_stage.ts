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
import { buildDataset, type DatasetSummary } from "../data/build.ts";
import { scanRoots } from "../data/scan.ts";
import { type SyntheticSet, writeSyntheticSet } from "../data/synthetic.ts";
import { exists, withFileLock, writeTextAtomic } from "../fs.ts";
import { sha256Hex } from "../hash.ts";
import type { Reporter } from "../report.ts";
import { FaceAligner } from "../pretrained/aligner.ts";
import { PINS } from "../pretrained/assets.ts";

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
 * Hashes what determines a build: the dataset config, the seed, and every
 * source image's path, size and modification time.
 */
async function inputHash(config: Config, roots: RootConfig[]): Promise<string> {
  const { identities } = await scanRoots(roots, config.dataset.extensions);
  const listing: string[] = [];
  for (const identity of identities) {
    for (const path of identity.images) {
      const info = await Deno.stat(path);
      listing.push(
        `${identity.name}\t${path}\t${info.size}\t${
          info.mtime?.getTime() ?? 0
        }`,
      );
    }
  }
  const listingSha = await sha256Hex(listing.join("\n"));
  // Detection settings and weights key the cache only when detection runs,
  // so builds of aligned sources keep their keys.
  const detection = config.dataset.detect === "mtcnn"
    ? { mtcnn: config.mtcnn, weights: PINS.files }
    : {};
  return sha256Hex(
    canonicalJson({
      dataset: { ...config.dataset, roots },
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

/**
 * Builds the training set of a config, or reuses the cached build.
 *
 * With `dataset.synthetic` set, the synthetic faces are generated first
 * (also cached, keyed by the synthetic settings and the seed) and their
 * training identities become the dataset root.
 */
export async function runDatasetStage(
  config: Config,
  reporter: Reporter,
): Promise<DatasetStageResult> {
  const cacheDir = config.dataset.cache_dir;
  let roots = config.dataset.roots;
  let synthetic: DatasetStageResult["synthetic"] = null;

  if (config.dataset.synthetic !== null) {
    const set = await prepareSyntheticSet(config, reporter);
    roots = [{ path: set.trainRoot, prefix: "", identities: null }];
    synthetic = { evalRoot: set.evalRoot, pairsPath: set.pairsPath };
  }

  // build, unless a complete build of the same inputs is cached
  const key = await inputHash(config, roots);
  const dir = join(cacheDir, `dataset-${key.slice(0, 16)}`);
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
      return { dir, summary, synthetic, skipped: true, inputSha256: key };
    }
    const aligner = config.dataset.detect === "mtcnn"
      ? await FaceAligner.load(config, config.dataset.image_size)
      : null;
    try {
      const summary = await buildDataset({ ...config.dataset, roots }, {
        seed: config.seed,
        outDir: dir,
        reporter,
        ...(aligner
          ? {
            align: async (image, path) =>
              (await aligner.align(image, path)).image,
          }
          : {}),
      });
      return { dir, summary, synthetic, skipped: false, inputSha256: key };
    } finally {
      aligner?.dispose();
    }
  });
}
