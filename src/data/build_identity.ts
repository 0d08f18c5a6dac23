/**
 * The work of the dataset build on one identity, as a build worker runs it.
 * Each selected source is read once and decoded to raw pixels at the output
 * size, after face alignment when detection is on. The augmented copies of
 * the identity's rule are made on typed arrays, and each output is encoded
 * once as PNG. For rules whose only output is the original, sharp instead
 * goes from the file to the PNG in one call. Nothing here writes files: the
 * build's main thread does.
 *
 * @module
 */

import { createHash } from "node:crypto";
import type { DatasetConfig } from "../config/types.ts";
import { deriveRng, type Rng } from "../rng.ts";
import { NoFaceError } from "../detect/select.ts";
import { addGaussianNoise, addSaltPepper, open } from "./augment.ts";
import {
  type CropBox,
  decodeImageBytes,
  decodeResized,
  decodeResizedPng,
  encodePng,
  type RawImage,
  resizeImage,
} from "./image.ts";
import { type Operation, RULE_OPERATIONS, type RuleName } from "./rules.ts";
import { readImageBytes, refLabel } from "./sources/list.ts";
import type { ImageRef } from "./sources/source.ts";

/** One identity the build processes, with the sources its rule selected. */
export interface IdentityJob {
  /** Position of the identity in the listing, which names its staging folder. */
  index: number;
  name: string;
  rule: RuleName;
  /** The selected source images, in listing order. */
  images: ImageRef[];
  /** The source names of `images` (see `SourceIdentity.imageNames`). */
  imageNames: string[];
  /** Output file name stems, one per selected source. */
  stems: string[];
}

/** A source image that was skipped, and why. */
export interface UnreadableImage {
  path: string;
  error: string;
}

/** One encoded output image of an identity. */
export interface IdentityOutput {
  /** File name inside the identity's folder, `<stem>_<operation>.png`. */
  file: string;
  /** The source as the manifest shows it (see `refLabel`). */
  source: string;
  operation: Operation;
  /** Lowercase hex SHA-256 of `png`. */
  sha256: string;
  png: Uint8Array;
}

/** The outputs and the skipped sources of one identity. */
export interface IdentityResult {
  index: number;
  name: string;
  /** Outputs in source order, then operation order. */
  outputs: IdentityOutput[];
  /** Selected sources that could not be read or decoded. */
  unreadable: UnreadableImage[];
  /** Selected sources in which detection found no face. */
  noFace: string[];
}

/**
 * The face step of detection: returns the aligned face of a decoded image
 * at `image_size`, or throws `NoFaceError`.
 */
export type AlignFace = (image: RawImage, source: string) => Promise<RawImage>;

/** Settings shared by every identity of one build. */
export interface IdentitySettings {
  config: DatasetConfig;
  seed: number;
  align?: AlignFace;
  /** A fixed box cropped from every source before resizing (benchmarks). */
  crop?: CropBox;
  /** Called after each source image, read or skipped. */
  onImage?: () => void;
}

/**
 * Processes the selected sources of one identity in order.
 *
 * Each source is read through `readImageBytes` (the next one is read while
 * the current one is decoded), decoded and resized once, then the rule's
 * operations are applied to the resized pixels. When the only operation is
 * the original and detection is off, one sharp call decodes, resizes and
 * encodes it, with the same bytes. A source that cannot be read or decoded
 * is listed in `unreadable` and one without a face in `noFace`;
 * neither stops the identity.
 *
 * The noise of a source comes from `deriveRng(seed,
 * "dataset/noise/<identity>/<source name>")`, so the outputs do not depend
 * on which worker runs the identity or when.
 *
 * @throws {Error} When alignment fails for another reason than a missing
 *   face, or an augmentation rejects its settings.
 */
export async function processIdentity(
  job: IdentityJob,
  settings: IdentitySettings,
): Promise<IdentityResult> {
  const result: IdentityResult = {
    index: job.index,
    name: job.name,
    outputs: [],
    unreadable: [],
    noFace: [],
  };
  const read = (k: number) =>
    readImageBytes(job.images[k]).then(
      (bytes) => ({ bytes }),
      (error: Error) => ({ error }),
    );
  let next = job.images.length > 0 ? read(0) : null;
  for (let k = 0; k < job.images.length; k++) {
    const bytes = await next!;
    next = k + 1 < job.images.length ? read(k + 1) : null;
    const source = refLabel(job.images[k]);
    let png: Uint8Array | null = null;
    if (!("error" in bytes) && onlyOriginal(job.rule, settings)) {
      png = await originalPng(bytes.bytes, source, settings);
    }
    if ("error" in bytes) {
      result.unreadable.push({ path: source, error: bytes.error.message });
    } else if (png !== null) {
      result.outputs.push(outputOf(job, k, "original", png));
    } else {
      const image = await sizedImage(bytes.bytes, source, settings);
      if ("error" in image) {
        if (image.noFace) result.noFace.push(source);
        else result.unreadable.push({ path: source, error: image.error });
      } else {
        result.outputs.push(
          ...await makeOutputs(job, k, image.image, settings),
        );
      }
    }
    settings.onImage?.();
  }
  return result;
}

/**
 * Returns whether an identity's only output per source is the resized source
 * itself, without alignment, so no raw pixels are needed.
 */
function onlyOriginal(rule: RuleName, settings: IdentitySettings): boolean {
  const operations = RULE_OPERATIONS[rule];
  return settings.align === undefined && operations.length === 1 &&
    operations[0] === "original";
}

/**
 * Encodes the resized source in one sharp call (see `decodeResizedPng`), or
 * returns null for the separate decode and encode steps. Those steps also
 * handle every error, so one is thrown here only to be thrown again there.
 */
async function originalPng(
  bytes: Uint8Array,
  source: string,
  settings: IdentitySettings,
): Promise<Uint8Array | null> {
  const size = settings.config.image_size;
  try {
    return await decodeResizedPng(bytes, source, size, settings.crop);
  } catch {
    return null;
  }
}

/** Decodes one source at the output size, aligning it when detection is on. */
async function sizedImage(
  bytes: Uint8Array,
  source: string,
  settings: IdentitySettings,
): Promise<{ image: RawImage } | { error: string; noFace: boolean }> {
  const size = settings.config.image_size;
  if (!settings.align) {
    try {
      return { image: await decodeResized(bytes, source, size, settings.crop) };
    } catch (error) {
      return { error: (error as Error).message, noFace: false };
    }
  }
  let decoded: RawImage;
  try {
    decoded = await decodeImageBytes(bytes, source);
  } catch (error) {
    return { error: (error as Error).message, noFace: false };
  }
  try {
    // The aligner warps onto the template at image_size; resizing then
    // returns the image as it is.
    return {
      image: await resizeImage(await settings.align(decoded, source), size),
    };
  } catch (error) {
    if (!(error instanceof NoFaceError)) throw error;
    return { error: error.message, noFace: true };
  }
}

/** Applies the operations of the identity's rule and encodes each output. */
async function makeOutputs(
  job: IdentityJob,
  k: number,
  original: RawImage,
  settings: IdentitySettings,
): Promise<IdentityOutput[]> {
  const noiseRng = job.rule === "kept_opened_noised"
    ? await deriveRng(
      settings.seed,
      `dataset/noise/${job.name}/${job.imageNames[k]}`,
    )
    : null;
  const outputs: IdentityOutput[] = [];
  for (const operation of RULE_OPERATIONS[job.rule]) {
    const png = await encodePng(
      applyOperation(original, operation, settings.config, noiseRng),
    );
    outputs.push(outputOf(job, k, operation, png));
  }
  return outputs;
}

/** Names and hashes one encoded output of source `k`. */
function outputOf(
  job: IdentityJob,
  k: number,
  operation: Operation,
  png: Uint8Array,
): IdentityOutput {
  return {
    file: `${job.stems[k]}_${operation}.png`,
    source: refLabel(job.images[k]),
    operation,
    // node:crypto hashes on this thread, while crypto.subtle.digest would
    // hand each small PNG to another thread and back.
    sha256: createHash("sha256").update(png).digest("hex"),
    png,
  };
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
