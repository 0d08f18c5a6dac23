/**
 * The manifest of a built dataset (`manifest.jsonl`, one JSON object per
 * output image) and the reader that turns a built dataset back into one
 * training buffer.
 *
 * @module
 */

import { join } from "node:path";
import { sha256Hex } from "../hash.ts";
import { mapPool } from "./_pool.ts";
import { decodeImageBytes } from "./image.ts";
import type { Operation } from "./rules.ts";

/** One output image of the dataset, a line of `manifest.jsonl`. */
export interface ManifestEntry {
  /** The PNG file, relative to the dataset folder, with `/` separators. */
  path: string;
  identity: string;
  /** Class index, 0..K-1 over kept identities in name order. */
  label: number;
  /** The source image as the scan listed it. */
  source: string;
  operation: Operation;
  /** Lowercase hex SHA-256 of the PNG bytes. */
  sha256: string;
}

/** Images decoded at once while loading. */
const LOAD_CONCURRENCY = 4;

/** Formats entries as JSON lines with keys in a fixed order. */
export function formatManifest(entries: readonly ManifestEntry[]): string {
  return entries
    .map((entry) =>
      JSON.stringify({
        path: entry.path,
        identity: entry.identity,
        label: entry.label,
        source: entry.source,
        operation: entry.operation,
        sha256: entry.sha256,
      }) + "\n"
    )
    .join("");
}

/**
 * Parses the text of a `manifest.jsonl`.
 *
 * @throws {SyntaxError} When a line is not JSON or lacks a field; the message
 *   gives the line number.
 */
export function parseManifest(text: string, source: string): ManifestEntry[] {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines.map((line, index) => {
    let value: Record<string, unknown>;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new SyntaxError(
        `Cannot parse manifest "${source}": line ${index + 1}: ${
          (error as Error).message
        }`,
      );
    }
    const valid = typeof value?.path === "string" &&
      typeof value.identity === "string" &&
      Number.isInteger(value.label) && typeof value.source === "string" &&
      typeof value.operation === "string" && typeof value.sha256 === "string";
    if (!valid) {
      throw new SyntaxError(
        `Cannot parse manifest "${source}": line ${
          index + 1
        }: expected path, identity, label, source, operation and sha256`,
      );
    }
    return value as unknown as ManifestEntry;
  });
}

/** A built dataset decoded into memory. */
export interface TrainingSet {
  /** `[N, H, W, 3]` RGB uint8, in manifest order. */
  images: Uint8Array;
  /** `[N]` class indices in 0..numClasses-1. */
  labels: Int32Array;
  numClasses: number;
  /** Identity names indexed by label. */
  identities: string[];
}

/**
 * Decodes every image of a built dataset into one buffer, checking each
 * file's SHA-256 and size against the manifest.
 *
 * NOTE: The whole set is held in memory, 37,632 bytes per 112x112 image, which
 * suits the small profiles but not the Trillion Pairs scale, where millions of
 * images would need well over 100 GB.
 *
 * @param outDir The folder `buildDataset` wrote.
 * @param imageSize Side of the images in pixels (`dataset.image_size`).
 * @returns Images `[N, imageSize, imageSize, 3]` and labels `[N]`.
 * @throws {SyntaxError} When the manifest or labels.json is malformed.
 * @throws {Error} When an image is missing, altered, undecodable or of
 *   another size.
 *
 * @example Load a built set
 * ```ts ignore
 * import { loadTrainingSet } from "./manifest.ts";
 * const set = await loadTrainingSet("cache/datasets/abc123", 112);
 * console.log(set.labels.length, set.numClasses);
 * ```
 */
export async function loadTrainingSet(
  outDir: string,
  imageSize: number,
): Promise<TrainingSet> {
  const manifestPath = join(outDir, "manifest.jsonl");
  const labelsPath = join(outDir, "labels.json");
  const entries = parseManifest(
    await Deno.readTextFile(manifestPath),
    manifestPath,
  );
  const identities = parseLabels(
    await Deno.readTextFile(labelsPath),
    labelsPath,
  );

  const imageBytes = imageSize * imageSize * 3;
  const images = new Uint8Array(entries.length * imageBytes);
  const labels = new Int32Array(entries.length);
  await mapPool(entries, LOAD_CONCURRENCY, async (entry, index) => {
    const path = join(outDir, entry.path);
    if (identities[entry.label] !== entry.identity) {
      throw new SyntaxError(
        `Cannot load dataset: "${path}" has label ${entry.label}, which labels.json gives to "${
          identities[entry.label]
        }", not "${entry.identity}"`,
      );
    }
    const bytes = await Deno.readFile(path);
    const sha256 = await sha256Hex(bytes);
    if (sha256 !== entry.sha256) {
      throw new Error(
        `Cannot load dataset: "${path}" has SHA-256 ${sha256}, the manifest has ${entry.sha256}: rebuild the dataset`,
      );
    }
    const image = await decodeImageBytes(bytes, path);
    if (image.width !== imageSize || image.height !== imageSize) {
      throw new Error(
        `Cannot load dataset: "${path}" is ${image.width}x${image.height}, expected ${imageSize}x${imageSize}: rebuild the dataset with this image_size`,
      );
    }
    images.set(image.data, index * imageBytes);
    labels[index] = entry.label;
  });
  return { images, labels, numClasses: identities.length, identities };
}

function parseLabels(text: string, source: string): string[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new SyntaxError(
      `Cannot parse labels "${source}": ${(error as Error).message}`,
    );
  }
  if (
    !Array.isArray(value) || !value.every((name) => typeof name === "string")
  ) {
    throw new SyntaxError(
      `Cannot parse labels "${source}": expected an array of identity names`,
    );
  }
  return value;
}
