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
import { writeSyntheticSet } from "../data/synthetic.ts";
import { exists } from "../fs.ts";
import { sha256Hex } from "../hash.ts";
import type { Reporter } from "../report.ts";

/** Where the built set lies and what it contains. */
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
  return sha256Hex(
    canonicalJson({
      dataset: { ...config.dataset, roots },
      seed: config.seed,
      listingSha,
    }),
  );
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

  // generate the synthetic faces once per settings and seed
  if (config.dataset.synthetic !== null) {
    const key = await sha256Hex(
      canonicalJson({ synthetic: config.dataset.synthetic, seed: config.seed }),
    );
    const dir = join(cacheDir, `synthetic-${key.slice(0, 16)}`);
    const done = join(dir, "complete.json");
    const set = {
      trainRoot: join(dir, "train"),
      evalRoot: join(dir, "eval"),
      pairsPath: join(dir, "eval", "pairs.txt"),
    };
    if (await exists(done)) {
      reporter.info(`synthetic faces: reusing ${dir} (same settings and seed)`);
    } else {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      const written = await writeSyntheticSet(config.dataset.synthetic, {
        seed: config.seed,
        outDir: dir,
        reporter,
      });
      Object.assign(set, written);
      await Deno.writeTextFile(done, JSON.stringify({ key }) + "\n");
    }
    roots = [{ path: set.trainRoot, prefix: "", identities: null }];
    synthetic = { evalRoot: set.evalRoot, pairsPath: set.pairsPath };
  }

  // build, unless a complete build of the same inputs is cached
  const key = await inputHash(config, roots);
  const dir = join(cacheDir, `dataset-${key.slice(0, 16)}`);
  const summaryPath = join(dir, "summary.json");
  if (await exists(summaryPath)) {
    reporter.info(`dataset: reusing ${dir} (inputs unchanged)`);
    const summary = JSON.parse(
      await Deno.readTextFile(summaryPath),
    ) as DatasetSummary;
    return { dir, summary, synthetic, skipped: true, inputSha256: key };
  }
  const summary = await buildDataset({ ...config.dataset, roots }, {
    seed: config.seed,
    outDir: dir,
    reporter,
  });
  return { dir, summary, synthetic, skipped: false, inputSha256: key };
}
