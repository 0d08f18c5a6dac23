/**
 * Lists the configured dataset roots as one {@linkcode SourceListing}, and
 * reads one image's bytes through its {@linkcode ImageRef}.
 *
 * @module
 */

import { basename } from "node:path";
import type { RootConfig } from "../../config/types.ts";
import { DatasetError } from "../dataset_error.ts";
import { scanRoots } from "../scan.ts";
import type { ImageRef, SourceListing } from "./source.ts";

/**
 * Lists every identity of `roots`, sorted by name.
 *
 * @param roots The `dataset.roots` entries.
 * @param extensions Image file extensions of folder sources.
 * @throws {DatasetError} When a root is missing or two roots share an
 *   identity name (see `scanRoots`).
 */
export async function listSources(
  roots: RootConfig[],
  extensions: string[],
): Promise<SourceListing> {
  const scan = await scanRoots(roots, extensions);
  return {
    identities: scan.identities.map((identity) => ({
      name: identity.name,
      images: identity.images.map((path): ImageRef => ({ kind: "file", path })),
      imageNames: identity.images.map((path) => basename(path)),
    })),
    imageCount: scan.imageCount,
    skipped: [],
  };
}

/** The path that messages and the manifest show for an image. */
export function refLabel(ref: ImageRef): string {
  return ref.kind === "file" ? ref.path : `${ref.rec}#${ref.key}`;
}

/**
 * Reads the encoded bytes of one image.
 *
 * @throws {DatasetError} When the file cannot be read, naming it.
 */
export async function readImageBytes(ref: ImageRef): Promise<Uint8Array> {
  if (ref.kind !== "file") {
    throw new DatasetError(
      ref.rec,
      `Cannot read "${refLabel(ref)}": records are not readable yet`,
    );
  }
  try {
    return await Deno.readFile(ref.path);
  } catch (error) {
    throw new DatasetError(
      ref.path,
      `Cannot read image "${ref.path}": ${(error as Error).message}`,
    );
  }
}
