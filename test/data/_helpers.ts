/**
 * Shared pieces of the dataset tests: images made in memory, temporary
 * folders, and the location of the real face data beside the repository.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { encodePng, type RawImage } from "../../src/data/image.ts";
import { writeFileAtomic } from "../../src/fs.ts";
import type { DatasetConfig } from "../../src/config/types.ts";

/** `../shared/data` from the repository root. */
export const SHARED_DATA = fileURLToPath(
  new URL("../../../shared/data", import.meta.url),
);

/** Whether the real face data is present; tests that need it skip otherwise. */
export const HAS_SHARED_DATA = await Deno.stat(`${SHARED_DATA}/att_faces`)
  .then((info) => info.isDirectory, () => false);

if (!HAS_SHARED_DATA) {
  console.warn(
    `Skipping real-data tests: folder "${SHARED_DATA}/att_faces" not found`,
  );
}

/** Makes an image whose pixel (y, x) channel c is `value(y, x, c)`. */
export function makeImage(
  width: number,
  height: number,
  value: (y: number, x: number, c: number) => number,
): RawImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        data[(y * width + x) * 3 + c] = value(y, x, c);
      }
    }
  }
  return { data, width, height, channels: 3 };
}

/** Writes a small PNG whose colour depends on `seed`. */
export async function writeTestPng(
  path: string,
  seed: number,
  size = 16,
): Promise<void> {
  const image = makeImage(
    size,
    size,
    (y, x, c) => (seed * 37 + y * 11 + x * 5 + c * 60) % 256,
  );
  await writeFileAtomic(path, await encodePng(image));
}

/** Runs `body` with a fresh temporary folder, removed afterwards. */
export async function withTempDir(
  body: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "data_test_" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Returns a dataset config with small thresholds and images, for tests. */
export function testDatasetConfig(
  overrides: Partial<DatasetConfig> = {},
): DatasetConfig {
  return {
    roots: [],
    synthetic: null,
    extensions: ["jpg", "jpeg", "png", "pgm", "bmp", "webp"],
    image_size: 16,
    detect: "none",
    cache_dir: "cache/datasets",
    workers: 2,
    shard_bytes: 1 << 20,
    rules: { sample_above: 6, keep_above: 5, opened_above: 3, noised_above: 1 },
    augment: {
      opening_size: 3,
      gaussian_sigma: 10,
      salt_pepper_fraction: 0.05,
    },
    ...overrides,
  };
}
