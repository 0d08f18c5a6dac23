/**
 * Stage 1 of the pipeline: builds the training set from identity folders by
 * the dataset recipe. With the default thresholds it caps identities at 350
 * images, pads small ones with opened and noisy copies and drops those with 30
 * or fewer. The images are resized to the network input and written as PNG
 * files with a hashed manifest.
 *
 * @module
 */

import { basename, extname, join } from "node:path";
import type { DatasetConfig } from "../config/types.ts";
import { writeFileAtomic, writeJsonAtomic, writeTextAtomic } from "../fs.ts";
import { sha256Hex } from "../hash.ts";
import { type Reporter, silentReporter } from "../report.ts";
import { deriveRng, type Rng } from "../rng.ts";
import { mapPool } from "./_pool.ts";
import { addGaussianNoise, addSaltPepper, open } from "./augment.ts";
import { DatasetError } from "./dataset_error.ts";
import { decodeImage, encodePng, type RawImage, resizeImage } from "./image.ts";
import { NoFaceError } from "../detect/select.ts";
import { formatManifest, type ManifestEntry } from "./manifest.ts";
import {
  type Operation,
  RULE_NAMES,
  RULE_OPERATIONS,
  ruleFor,
  type RuleName,
} from "./rules.ts";
import { type ScannedIdentity, scanRoots } from "./scan.ts";

export { loadTrainingSet } from "./manifest.ts";

/** Source images decoded at once; sharp runs each on its own threads. */
const BUILD_CONCURRENCY = 4;

/** A source image that could not be decoded, and why. */
export interface UnreadableImage {
  path: string;
  error: string;
}

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
  /** Selected source images that failed to decode and were skipped. */
  unreadable: UnreadableImage[];
  /** Identity folders without image files (counted as dropped). */
  empty_identities: string[];
  /** Identities a rule kept whose selected images all failed to decode. */
  unreadable_identities: string[];
  /** Selected images where face detection found no face, skipped like unreadable ones. */
  no_face: string[];
  /** SHA-256 of the bytes of manifest.jsonl. */
  manifest_sha256: string;
}

/** Options of {@linkcode buildDataset}. */
export interface BuildOptions {
  /** The run seed; sampling and noise derive their generators from it. */
  seed: number;
  /** The folder to write; earlier outputs in it are removed first. */
  outDir: string;
  reporter?: Reporter;
  /**
   * The crop step (`dataset.detect: mtcnn`): returns the aligned face of a
   * decoded image at `image_size`, or throws `NoFaceError`.
   */
  align?: (image: RawImage, path: string) => Promise<RawImage>;
}

/** One identity and the source images the recipe uses. */
interface IdentityPlan {
  identity: ScannedIdentity;
  rule: RuleName;
  sources: string[];
  /** Output file name stems, one per source. */
  stems: string[];
}

/**
 * Builds the training set from `config.roots`.
 *
 * Each identity's rule is decided by n, the number of image files found in
 * its folder (see {@linkcode ruleFor}). A selected file that fails to decode
 * is skipped and listed in `unreadable`, so it still counts towards n and is
 * not replaced in a sample. Kept identities get labels 0..K-1 in name order,
 * skipping any whose selected images all failed.
 *
 * Writes, under `outDir`:
 * - `images/<label, 6 digits>/<source stem>_<operation>.png`, where operation
 *   is original, opened, gaussian or salt_pepper; a stem shared by two sources
 *   of one identity (`a.jpg` and `a.png`) gets the extension appended;
 * - `labels.json`: identity names indexed by label;
 * - `summary.json`: the {@linkcode DatasetSummary};
 * - `manifest.jsonl`: one {@linkcode ManifestEntry} per image, written last,
 *   so a build that stops early leaves no manifest.
 *
 * The sample of an identity comes from `deriveRng(seed,
 * "dataset/sample/<identity>")` and the noise of a source image from
 * `deriveRng(seed, "dataset/noise/<identity>/<file name>")`, so the same seed
 * and inputs give a byte-identical manifest whatever the processing order.
 *
 * @param config The dataset section of the configuration.
 * @param options Seed, output folder and reporter.
 * @returns The summary that was written to `summary.json`.
 * @throws {DatasetError} When scanning the roots fails (see `scanRoots`).
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
  const { seed, outDir } = options;
  const reporter = options.reporter ?? silentReporter;

  // Scan and decide each identity's rule before touching the output.
  const scan = await scanRoots(config.roots, config.extensions);
  const plans = await Promise.all(
    scan.identities.map((identity) => planIdentity(identity, config, seed)),
  );
  const byRule = Object.fromEntries(
    RULE_NAMES.map((rule) => [rule, 0]),
  ) as Record<RuleName, number>;
  for (const plan of plans) byRule[plan.rule]++;
  const sourceCount = plans.reduce((sum, plan) => sum + plan.sources.length, 0);
  reporter.info(
    `dataset: ${scan.identities.length} identities, ${scan.imageCount} images found; ${sourceCount} images selected`,
  );

  await removePreviousBuild(outDir);

  // Decode, augment and write each kept identity in label order.
  const context: BuildContext = { config, seed, outDir, align: options.align };
  const bar = reporter.progress("dataset", sourceCount, "images");
  let done = 0;
  const entries: ManifestEntry[] = [];
  const labels: string[] = [];
  const unreadable: UnreadableImage[] = [];
  const noFace: string[] = [];
  const unreadableIdentities: string[] = [];
  for (const plan of plans) {
    if (plan.rule === "dropped") continue;
    const label = labels.length;
    const outputs = await mapPool(
      plan.sources,
      BUILD_CONCURRENCY,
      async (_source, index) => {
        const result = await processSource(plan, index, label, context);
        bar.update(++done);
        return result;
      },
    );
    let written = 0;
    for (const output of outputs) {
      if (Array.isArray(output)) {
        entries.push(...output);
        written += output.length;
      } else if (output.noFace) {
        noFace.push(output.path);
        reporter.record({ event: "dataset_no_face", path: output.path });
      } else {
        unreadable.push(output);
        reporter.record({ event: "dataset_unreadable", ...output });
      }
    }
    if (written > 0) {
      labels.push(plan.identity.name);
    } else {
      unreadableIdentities.push(plan.identity.name);
    }
  }
  // The last update already wrote the final line unless nothing was built.
  if (sourceCount === 0) bar.update(0);

  // The manifest goes last: its presence marks a complete build.
  const manifest = formatManifest(entries);
  const summary: DatasetSummary = {
    identities_in: scan.identities.length,
    images_in: scan.imageCount,
    identities_kept: labels.length,
    images_out: entries.length,
    by_rule: byRule,
    unreadable,
    empty_identities: scan.identities
      .filter((identity) => identity.images.length === 0)
      .map((identity) => identity.name),
    unreadable_identities: unreadableIdentities,
    no_face: noFace,
    manifest_sha256: await sha256Hex(manifest),
  };
  await writeJsonAtomic(join(outDir, "labels.json"), labels);
  await writeJsonAtomic(join(outDir, "summary.json"), summary);
  await writeTextAtomic(join(outDir, "manifest.jsonl"), manifest);

  reporter.record({
    event: "dataset_built",
    identities_in: summary.identities_in,
    images_in: summary.images_in,
    identities_kept: summary.identities_kept,
    images_out: summary.images_out,
    by_rule: byRule,
    unreadable: unreadable.length,
    manifest_sha256: summary.manifest_sha256,
  });
  reporter.info(
    `dataset: ${summary.identities_kept} identities, ${summary.images_out} images written; ${unreadable.length} unreadable${
      options.align ? `, ${noFace.length} without a face` : ""
    }`,
  );
  return summary;
}

/** Picks the rule and the source images of one identity. */
async function planIdentity(
  identity: ScannedIdentity,
  config: DatasetConfig,
  seed: number,
): Promise<IdentityPlan> {
  const rule = ruleFor(identity.images.length, config.rules);
  let sources = rule === "dropped" ? [] : identity.images;
  if (rule === "sampled_350") {
    const rng = await deriveRng(seed, `dataset/sample/${identity.name}`);
    const picked = rng.sampleIndices(
      identity.images.length,
      config.rules.sample_above,
    );
    sources = picked.map((index) => identity.images[index]);
  }
  return { identity, rule, sources, stems: outputStems(sources) };
}

/** Deletes the outputs of an earlier build in `outDir`, manifest first. */
async function removePreviousBuild(outDir: string): Promise<void> {
  for (const name of ["manifest.jsonl", "summary.json", "labels.json"]) {
    await Deno.remove(join(outDir, name)).catch(ignoreNotFound);
  }
  await Deno.remove(join(outDir, "images"), { recursive: true })
    .catch(ignoreNotFound);
}

function ignoreNotFound(error: unknown): void {
  if (!(error instanceof Deno.errors.NotFound)) throw error;
}

/** Settings shared by every source image of one build. */
interface BuildContext {
  config: DatasetConfig;
  seed: number;
  outDir: string;
  align?: BuildOptions["align"];
}

/**
 * Decodes one source image, applies the operations of its identity's rule and
 * writes the outputs.
 *
 * @returns The manifest entries of the outputs in operation order, or the
 *   decoding error when the source cannot be read.
 * @throws {Error} When an output cannot be written.
 */
async function processSource(
  plan: IdentityPlan,
  index: number,
  label: number,
  context: BuildContext,
): Promise<ManifestEntry[] | (UnreadableImage & { noFace?: true })> {
  const { config, seed, outDir } = context;
  const source = plan.sources[index];
  const identity = plan.identity.name;
  let decoded: RawImage;
  try {
    decoded = await decodeImage(source);
  } catch (error) {
    return { path: source, error: (error as Error).message };
  }
  if (context.align) {
    try {
      decoded = await context.align(decoded, source);
    } catch (error) {
      if (!(error instanceof NoFaceError)) throw error;
      return { path: source, error: error.message, noFace: true };
    }
  }
  const original = await resizeImage(decoded, config.image_size);
  const noiseRng = plan.rule === "kept_opened_noised"
    ? await deriveRng(seed, `dataset/noise/${identity}/${basename(source)}`)
    : null;

  const folder = `images/${String(label).padStart(6, "0")}`;
  const entries: ManifestEntry[] = [];
  for (const operation of RULE_OPERATIONS[plan.rule]) {
    const png = await encodePng(
      applyOperation(original, operation, config, noiseRng),
    );
    const path = `${folder}/${plan.stems[index]}_${operation}.png`;
    await writeFileAtomic(join(outDir, path), png);
    entries.push({
      path,
      identity,
      label,
      source,
      operation,
      sha256: await sha256Hex(png),
    });
  }
  return entries;
}

/**
 * Makes one output image. The noisy copies are made from the original, not
 * from the opened image, and draw from `noiseRng` in operation order.
 */
function applyOperation(
  original: RawImage,
  operation: Operation,
  config: DatasetConfig,
  noiseRng: Rng | null,
): RawImage {
  const { augment } = config;
  switch (operation) {
    case "original":
      return original;
    case "opened":
      return open(original, augment.opening_size);
    case "gaussian":
      return addGaussianNoise(original, augment.gaussian_sigma, noiseRng!);
    case "salt_pepper":
      return addSaltPepper(original, augment.salt_pepper_fraction, noiseRng!);
  }
}

/**
 * Returns the output name stem of each source: its file name without the
 * extension, or with the extension after an underscore (`a_jpg`) when another
 * source of the identity has the same stem.
 *
 * @throws {DatasetError} When two sources still map to the same stem.
 */
function outputStems(sources: string[]): string[] {
  const names = sources.map((path) => basename(path));
  const plain = names.map((name) =>
    name.slice(0, name.length - extname(name).length)
  );
  const counts = new Map<string, number>();
  for (const stem of plain) counts.set(stem, (counts.get(stem) ?? 0) + 1);
  const stems = plain.map((stem, k) =>
    counts.get(stem) === 1 ? stem : `${stem}_${extname(names[k]).slice(1)}`
  );
  const seen = new Map<string, string>();
  for (const [k, stem] of stems.entries()) {
    const other = seen.get(stem);
    if (other !== undefined) {
      throw new DatasetError(
        sources[k],
        `Cannot name dataset outputs: "${other}" and "${
          sources[k]
        }" both map to "${stem}": rename one of them`,
      );
    }
    seen.set(stem, sources[k]);
  }
  return stems;
}
