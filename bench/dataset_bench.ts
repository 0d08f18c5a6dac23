/**
 * Throughput of the dataset build's per-image work and of the training
 * loader, on a fixed synthetic set: 240 JPEGs of 250x250 (synthetic faces
 * rendered from seed 20180419, quality 90, 4:2:0) in 48 identities of 5,
 * written once to cache/bench/.
 *
 * The steps, the same on both sides:
 * - plain: read the file, decode it to 8-bit colour, crop the box of 150x150
 *   at (50, 50), resize to 112x112 with a Lanczos filter, encode PNG at
 *   zlib level 6;
 * - augmented: the plain steps, then a 3x3 grey-scale opening, a copy with
 *   Gaussian noise (sigma 10) and a copy with 2 % salt-and-pepper pixels,
 *   each encoded the same way (four PNGs per source).
 *
 * Ours runs in the build's worker pool (sharp 0.35 / libvips 8.18, one
 * libvips thread per worker, augmentations in TypeScript). The reference is
 * bench/opencv_reference.py with OpenCV's Python binding on one thread
 * (`cv2.setNumThreads(1)`), run when /usr/bin/python3 can import cv2. Two
 * differences remain, because the binding cannot turn them off. OpenCV's
 * INTER_LANCZOS4 interpolates with a fixed 8x8 window, while libvips widens
 * its Lanczos-3 kernel by the shrink factor, which is more work for ours.
 * OpenCV 4.6 writes PNG rows with libpng's adaptive filters, while the build
 * writes them unfiltered, which is less work for ours.
 *
 * Each figure is the best of 3 timed passes after one warm-up pass, in
 * images per second of wall time and per CPU-second of the whole process.
 * On a machine shared with other work the figures move by 10 % or more
 * between runs; the ratios compare passes of one run.
 *
 * The loader case builds the set once (960 PNGs of 112x112) and reads it
 * back as shuffled, flipped and scaled micro-batches of 64 through two
 * decode workers, as training does for sets too large for memory.
 *
 * Run: deno task bench (or deno bench with the permissions of that task).
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { Buffer } from "node:buffer";
import { join } from "node:path";
import process from "node:process";
import sharp from "sharp";
import { loadConfig } from "../src/config/load.ts";
import type { DatasetConfig } from "../src/config/types.ts";
import { buildDataset } from "../src/data/build.ts";
import type { IdentityJob } from "../src/data/build_identity.ts";
import { BuildPool } from "../src/data/build_pool.ts";
import type { CropBox } from "../src/data/image.ts";
import { PackedImages, PackedLoader } from "../src/data/loader.ts";
import { RULE_OPERATIONS, type RuleName } from "../src/data/rules.ts";
import { renderFace } from "../src/data/synthetic.ts";
import { drawFaceIdentity } from "../src/data/synthetic_face.ts";
import { exists, writeFileAtomic } from "../src/fs.ts";
import { deriveRng } from "../src/rng.ts";
import { BatchSampler } from "../src/train/batches.ts";

const SEED = 20180419;
const IDENTITIES = 48;
const IMAGES_PER_IDENTITY = 5;
const SOURCE_SIZE = 250;
const JPEG_QUALITY = 90;
const CROP: CropBox = { left: 50, top: 50, width: 150, height: 150 };
const PASSES = 3;
const LOADER_BATCH = 64;
const LOADER_IMAGES = 3200;
const BENCH_DIR = "cache/bench";
const PYTHON = "/usr/bin/python3";

tf.env().set("IS_TEST", true);
await tf.setBackend("cpu");

const { config } = await loadConfig("configs/paper.yaml", [
  "dataset.detect=none",
]);
const dataset: DatasetConfig = { ...config.dataset, image_size: 112 };

/** Writes the synthetic JPEGs once and returns their paths by identity. */
async function writeSources(root: string): Promise<string[][]> {
  const identities: string[][] = [];
  for (let i = 0; i < IDENTITIES; i++) {
    const name = `bench_${String(i).padStart(3, "0")}`;
    const face = drawFaceIdentity(
      await deriveRng(SEED, `bench/identity/${name}`),
    );
    const paths: string[] = [];
    for (let index = 1; index <= IMAGES_PER_IDENTITY; index++) {
      const path = join(root, name, `${index}.jpg`);
      if (!await exists(path)) {
        const image = await renderFace(face, {
          seed: SEED,
          name,
          index,
          size: SOURCE_SIZE,
        });
        const jpeg = await sharp(Buffer.from(image.data), {
          raw: { width: SOURCE_SIZE, height: SOURCE_SIZE, channels: 3 },
        }).jpeg({ quality: JPEG_QUALITY }).toBuffer();
        await writeFileAtomic(path, new Uint8Array(jpeg));
      }
      paths.push(path);
    }
    identities.push(paths);
  }
  return identities;
}

/** Returns one build job per identity, every source taking `rule`. */
function jobsFor(identities: string[][], rule: RuleName): IdentityJob[] {
  return identities.map((paths, index) => ({
    index,
    name: `bench_${index}`,
    rule,
    images: paths.map((path) => ({ kind: "file" as const, path })),
    imageNames: paths.map((_, k) => `${k + 1}.jpg`),
    stems: paths.map((_, k) => String(k + 1)),
  }));
}

/** Throughput in source images per second of wall time and of CPU time. */
interface Rate {
  wall: number;
  cpu: number;
}

/** Runs every job through a pool of `workers`, best of `PASSES` passes. */
async function poolRate(workers: number, jobs: IdentityJob[]): Promise<Rate> {
  const pool = await BuildPool.start(workers, {
    config: dataset,
    seed: SEED,
    crop: CROP,
  });
  const images = jobs.reduce((sum, job) => sum + job.images.length, 0);
  let best: Rate = { wall: 0, cpu: 0 };
  try {
    for (let pass = 0; pass <= PASSES; pass++) {
      const cpu = process.cpuUsage();
      const start = performance.now();
      await Promise.all(jobs.map((job) => pool.run(job)));
      const seconds = (performance.now() - start) / 1000;
      const used = process.cpuUsage(cpu);
      const cpuSeconds = (used.user + used.system) / 1e6;
      // Pass 0 warms the workers and the file cache.
      if (pass > 0 && images / seconds > best.wall) {
        best = { wall: images / seconds, cpu: images / cpuSeconds };
      }
    }
  } finally {
    pool.close();
  }
  return best;
}

/** Runs the OpenCV reference, or returns why it could not run. */
async function opencvRates(
  files: string[],
): Promise<Record<string, number | string> | string> {
  const settings = {
    files,
    crop: [CROP.left, CROP.top, CROP.width, CROP.height],
    size: 112,
    png_level: 6,
    opening_size: dataset.augment.opening_size,
    gaussian_sigma: dataset.augment.gaussian_sigma,
    salt_pepper_fraction: dataset.augment.salt_pepper_fraction,
    passes: PASSES,
    seed: SEED,
  };
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(PYTHON, {
      args: [
        new URL("./opencv_reference.py", import.meta.url).pathname,
        JSON.stringify(settings),
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return `${PYTHON} not found`;
    throw error;
  }
  const decoder = new TextDecoder();
  if (output.code !== 0) {
    const reason = decoder.decode(output.stderr).trim().split("\n").at(-1);
    return `the reference failed: ${reason}`;
  }
  return JSON.parse(decoder.decode(output.stdout));
}

/** Reads `LOADER_IMAGES` images as training batches; images per second. */
async function loaderRate(
  datasetDir: string,
  workers: number,
): Promise<number> {
  const images = await PackedImages.open(datasetDir, 112);
  const loader = await PackedLoader.start(images, {
    workers,
    prefetchBatches: 4,
  });
  try {
    const sampler = new BatchSampler({
      images: loader,
      labels: images.labels,
      count: images.count,
      size: 112,
      numClasses: images.index.classes,
    }, SEED);
    // One warm-up batch, then the timed ones.
    tf.dispose(Object.values(await sampler.next(LOADER_BATCH, "bench/flip")));
    const start = performance.now();
    for (let read = 0; read < LOADER_IMAGES; read += LOADER_BATCH) {
      const batch = await sampler.next(LOADER_BATCH, `bench/flip/${read}`);
      tf.dispose([batch.images, batch.labels]);
    }
    return LOADER_IMAGES / ((performance.now() - start) / 1000);
  } finally {
    loader.close();
  }
}

function formatRate(rate: number): string {
  return rate.toFixed(0);
}

const root = join(BENCH_DIR, `dataset-jpegs-${SEED}`);
const identities = await writeSources(root);
const files = identities.flat();
const plainJobs = jobsFor(identities, "kept");
const augmentedJobs = jobsFor(identities, "kept_opened_noised");

const ours = {
  plain1: await poolRate(1, plainJobs),
  plain2: await poolRate(2, plainJobs),
  augmented1: await poolRate(1, augmentedJobs),
  augmented2: await poolRate(2, augmentedJobs),
};
const reference = await opencvRates(files);
const outputs = RULE_OPERATIONS.kept_opened_noised.length;
const lines = [
  `dataset bench: ${files.length} JPEGs of ${SOURCE_SIZE}x${SOURCE_SIZE}, crop ${CROP.width}x${CROP.height}, 112x112 PNG level 6; source images per second (per CPU-second)`,
  `  plain, 1 worker:      ${formatRate(ours.plain1.wall)} (${
    formatRate(ours.plain1.cpu)
  })`,
  `  plain, 2 workers:     ${formatRate(ours.plain2.wall)} (${
    formatRate(ours.plain2.cpu)
  }), ${formatRate(ours.plain2.wall / 2)} per worker, ${
    (ours.plain2.wall / ours.plain1.wall).toFixed(2)
  }x one worker`,
  `  augmented (${outputs} PNGs), 1 worker:  ${
    formatRate(ours.augmented1.wall)
  } (${formatRate(ours.augmented1.cpu)})`,
  `  augmented (${outputs} PNGs), 2 workers: ${
    formatRate(ours.augmented2.wall)
  } (${formatRate(ours.augmented2.cpu)}), ${
    (ours.augmented2.wall / ours.augmented1.wall).toFixed(2)
  }x one worker`,
];
if (typeof reference === "string") {
  lines.push(`  OpenCV reference skipped: ${reference}`);
} else {
  const plain = reference.plain_images_per_second as number;
  const augmented = reference.augmented_images_per_second as number;
  lines.push(
    `  OpenCV ${reference.opencv}, 1 thread: plain ${formatRate(plain)} (${
      formatRate(reference.plain_images_per_cpu_second as number)
    }), augmented ${formatRate(augmented)} (${
      formatRate(reference.augmented_images_per_cpu_second as number)
    })`,
    `  ours with 1 worker / OpenCV: plain ${
      (ours.plain1.wall / plain).toFixed(2)
    }x, augmented ${(ours.augmented1.wall / augmented).toFixed(2)}x`,
  );
}

// The loader reads a set built from the same sources.
const built = join(BENCH_DIR, `dataset-built-${SEED}`);
if (!await exists(join(built, "manifest.jsonl"))) {
  await buildDataset({
    ...dataset,
    roots: [{ path: root, prefix: "", identities: null }],
    // Five images per identity take the noised rule: 4 outputs each.
    rules: {
      sample_above: 350,
      keep_above: 200,
      opened_above: 90,
      noised_above: 4,
    },
  }, { seed: SEED, outDir: built });
}
lines.push(
  `  loader, 2 workers: ${
    formatRate(await loaderRate(built, 2))
  } images per second in flipped, scaled batches of ${LOADER_BATCH} at 112x112`,
);
console.log(lines.join("\n"));

const single = await Deno.readFile(files[0]);
const { decodeResized, encodePng } = await import("../src/data/image.ts");
const { open } = await import("../src/data/augment.ts");
const resized = await decodeResized(single, files[0], 112, CROP);
Deno.bench({
  name: "decode, crop and resize one 250x250 JPEG to 112x112",
  async fn() {
    await decodeResized(single, files[0], 112, CROP);
  },
});
Deno.bench({
  name: "encode one 112x112 PNG",
  async fn() {
    await encodePng(resized);
  },
});
Deno.bench({
  name: "3x3 opening of one 112x112 image",
  fn() {
    open(resized, 3);
  },
});
