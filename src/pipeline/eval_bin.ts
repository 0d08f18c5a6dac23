/**
 * Loading an insightface verification `.bin` set for stage 3: the encoded
 * images are decoded and resized to the network input, two per pair.
 *
 * @module
 */

import { decodeImageBytes } from "../data/image.ts";
import { defaultPreparer, type ImagePreparer } from "./eval_align.ts";
import { mapPool } from "../data/_pool.ts";
import { InputError } from "../errors.ts";
import {
  readVerificationBin,
  type VerificationBin,
} from "../eval/verification_bin.ts";
import type { Reporter } from "../report.ts";
import type { LoadedPairs } from "./eval_stage.ts";

/** Maximum number of images decoded concurrently. */
const DECODE_CONCURRENCY = 4;

/**
 * Reads a `.bin` set and decodes every image, resized to `size` x `size`
 * (Lanczos-3, stretched when not square, as {@linkcode resizeImage}).
 *
 * Each stored image is decoded once, even when two pairs show the same
 * photograph, because the file keeps a separate copy for every pair.
 *
 * @param source The set's name and file.
 * @param size Side of the network input in pixels.
 * @param reporter Receives a progress bar over the images.
 * @returns The images, pair p using images 2p and 2p + 1, and the labels.
 *   `folds` is null because the file does not divide its pairs into folds.
 * @throws {InputError} When the file does not exist.
 * @throws {SyntaxError} When the file is not a verification pickle.
 * @throws {Error} When an image cannot be decoded; the message names the
 *   file and the image's index.
 */
export async function loadBinPairs(
  source: { name: string; binPath: string },
  size: number,
  reporter: Reporter,
  prepare: ImagePreparer = defaultPreparer,
): Promise<LoadedPairs> {
  let set: VerificationBin;
  try {
    set = await readVerificationBin(source.binPath);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new InputError(
        `Cannot read evaluation set "${source.name}": file "${source.binPath}" not found: ` +
          "point its bin key at an insightface .bin file such as lfw.bin",
      );
    }
    throw error;
  }

  const count = set.images.length;
  const imageBytes = size * size * 3;
  const images = new Uint8Array(count * imageBytes);
  const bar = reporter.progress(`${source.name} images`, count, "images");
  let done = 0;
  await mapPool(set.images, DECODE_CONCURRENCY, async (bytes, i) => {
    const decoded = await decodeImageBytes(
      bytes,
      `${source.binPath} image ${i}`,
    );
    const image = await prepare(decoded, `${source.binPath} image ${i}`, size);
    images.set(image.data, i * imageBytes);
    bar.update(++done);
  });

  const pairs = set.issame.length;
  return {
    images,
    count,
    size,
    first: Int32Array.from({ length: pairs }, (_, p) => 2 * p),
    second: Int32Array.from({ length: pairs }, (_, p) => 2 * p + 1),
    issame: set.issame,
    folds: null,
  };
}
