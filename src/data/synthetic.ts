/**
 * The embedded data of the smoke profile: synthetic faces rendered from the
 * run seed, a training set of identity folders and a held-out evaluation set
 * in the LFW layout with its pairs file, so the whole pipeline runs without
 * downloads.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { join } from "node:path";
import sharp from "sharp";
import type { SyntheticConfig } from "../config/types.ts";
import { writeFileAtomic } from "../fs.ts";
import { type Reporter, silentReporter } from "../report.ts";
import { deriveRng } from "../rng.ts";
import { mapPool } from "./_pool.ts";
import { addGaussianNoise } from "./augment.ts";
import { encodePng, type RawImage } from "./image.ts";
import { drawPairs, writePairsFile } from "./make_pairs.ts";
import {
  drawFaceIdentity,
  drawFaceView,
  type FaceIdentity,
  faceSvg,
} from "./synthetic_face.ts";

/** Standard deviation of the pixel noise added to every rendered image. */
const PIXEL_NOISE_SIGMA = 4;

/** Images rendered at once; librsvg and PNG encoding run on sharp's threads. */
const RENDER_CONCURRENCY = 4;

/** Options of {@linkcode writeSyntheticSet}. */
export interface SyntheticOptions {
  seed: number;
  /** The folder to write `train/` and `eval/` into. */
  outDir: string;
  reporter?: Reporter;
}

/** Paths of the sets written by {@linkcode writeSyntheticSet}. */
export interface SyntheticSet {
  /** Identity folders `id_NNNN/NNNN.png`, a dataset root. */
  trainRoot: string;
  /** LFW layout `eval_NNNN/eval_NNNN_NNNN.png`. */
  evalRoot: string;
  /** The pairs file of the evaluation set, in LFW View 2 format. */
  pairsPath: string;
}

/** One image to render. */
interface RenderJob {
  name: string;
  /** 1-based index among the identity's images. */
  index: number;
  path: string;
}

/**
 * Renders one synthetic face: the identity's features under the view drawn
 * from `deriveRng(seed, "synthetic/image/<name>/<index>")`, plus pixel noise.
 *
 * @returns `[size, size, 3]` RGB uint8.
 */
export async function renderFace(
  identity: FaceIdentity,
  options: { seed: number; name: string; index: number; size: number },
): Promise<RawImage> {
  const rng = await deriveRng(
    options.seed,
    `synthetic/image/${options.name}/${options.index}`,
  );
  const svg = faceSvg(identity, drawFaceView(rng), options.size);
  const { data, info } = await sharp(Buffer.from(svg))
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3 || info.width !== options.size) {
    throw new TypeError(
      `Cannot render face: expected ${options.size}x${options.size}x3, got ${info.width}x${info.height}x${info.channels}`,
    );
  }
  const rendered: RawImage = {
    data: new Uint8Array(data.buffer, data.byteOffset, data.length),
    width: info.width,
    height: info.height,
    channels: 3,
  };
  return addGaussianNoise(rendered, PIXEL_NOISE_SIGMA, rng);
}

/**
 * Writes the synthetic training and evaluation sets.
 *
 * Training identity i (`id_0000`, `id_0001`, ...) gets
 * `image_counts[i % image_counts.length]` images at `train/id_NNNN/NNNN.png`.
 * The evaluation identities (`eval_0000`, ...) are different people, since
 * each identity's features come from `deriveRng(seed,
 * "synthetic/identity/<name>")`. They get `eval_images_per_identity` images
 * each at `eval/<name>/<name>_NNNN.png`, and `eval/pairs.txt` contains
 * `eval_folds` folds of `eval_per_fold` same-person and as many
 * different-person pairs, drawn with the generator names
 * `synthetic/pairs/<fold>`.
 *
 * @param cfg Identity and image counts, folds and canvas size.
 * @param options Seed, output folder and reporter.
 * @returns The training root, the evaluation root and the pairs file.
 * @throws {RangeError} When the evaluation set cannot give enough pairs.
 *
 * @example Write the smoke set
 * ```ts ignore
 * import { writeSyntheticSet } from "./synthetic.ts";
 * const set = await writeSyntheticSet(config.dataset.synthetic!, {
 *   seed: config.seed,
 *   outDir: "cache/synthetic",
 * });
 * console.log(set.trainRoot, set.pairsPath);
 * ```
 */
export async function writeSyntheticSet(
  cfg: SyntheticConfig,
  options: SyntheticOptions,
): Promise<SyntheticSet> {
  const { seed, outDir } = options;
  const reporter = options.reporter ?? silentReporter;
  const trainRoot = join(outDir, "train");
  const evalRoot = join(outDir, "eval");
  const pairsPath = join(evalRoot, "pairs.txt");
  if (cfg.image_counts.length === 0) {
    throw new RangeError(
      "Cannot write synthetic set: dataset.synthetic.image_counts is empty",
    );
  }

  // List every image first, so the pool renders them in a fixed order.
  const jobs: RenderJob[] = [];
  for (let i = 0; i < cfg.train_identities; i++) {
    const name = `id_${String(i).padStart(4, "0")}`;
    const count = cfg.image_counts[i % cfg.image_counts.length];
    for (let index = 1; index <= count; index++) {
      const file = `${String(index).padStart(4, "0")}.png`;
      jobs.push({ name, index, path: join(trainRoot, name, file) });
    }
  }
  const evalNames = Array.from(
    { length: cfg.eval_identities },
    (_, i) => `eval_${String(i).padStart(4, "0")}`,
  );
  for (const name of evalNames) {
    for (let index = 1; index <= cfg.eval_images_per_identity; index++) {
      const file = `${name}_${String(index).padStart(4, "0")}.png`;
      jobs.push({ name, index, path: join(evalRoot, name, file) });
    }
  }

  // Draw the pairs before rendering, so a set too small fails at once.
  const pairs = await drawPairs(
    evalNames.map((name) => ({
      name,
      images: cfg.eval_images_per_identity,
    })),
    {
      seed,
      folds: cfg.eval_folds,
      perFold: cfg.eval_per_fold,
      namespace: "synthetic/pairs",
    },
  );

  const identities = new Map<string, FaceIdentity>();
  for (const name of new Set(jobs.map((job) => job.name))) {
    const rng = await deriveRng(seed, `synthetic/identity/${name}`);
    identities.set(name, drawFaceIdentity(rng));
  }
  const bar = reporter.progress("synthetic", jobs.length, "images");
  const start = performance.now();
  let done = 0;
  await mapPool(jobs, RENDER_CONCURRENCY, async (job) => {
    const image = await renderFace(identities.get(job.name)!, {
      seed,
      name: job.name,
      index: job.index,
      size: cfg.canvas_size,
    });
    await writeFileAtomic(job.path, await encodePng(image));
    bar.update(++done);
  });
  await writePairsFile(pairsPath, cfg.eval_folds, cfg.eval_per_fold, pairs);

  const seconds = (performance.now() - start) / 1000;
  const imagesPerSecond = jobs.length / seconds;
  reporter.record({
    event: "synthetic_written",
    images: jobs.length,
    seconds,
    images_per_second: imagesPerSecond,
  });
  reporter.info(
    `synthetic: ${jobs.length} images in ${seconds.toFixed(1)} s (${
      imagesPerSecond.toFixed(0)
    } images/s)`,
  );
  return { trainRoot, evalRoot, pairsPath };
}
