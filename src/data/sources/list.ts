/**
 * Lists the configured dataset roots as one {@linkcode SourceListing}, and
 * reads one image's bytes through its {@linkcode ImageRef}.
 *
 * @module
 */

import { join } from "node:path";
import type { RootConfig } from "../../config/types.ts";
import { type Reporter, silentReporter } from "../../report.ts";
import { DatasetError } from "../dataset_error.ts";
import { compareCodePoints } from "../scan.ts";
import { listFolders, type RootListing } from "./folders.ts";
import { indexPathOf, listRecordIo } from "./recordio.ts";
import { readRecordImage, RecordFormatError } from "./recordio_record.ts";
import type { ImageRef, SourceIdentity, SourceListing } from "./source.ts";
import { listTrillionPairs, TRILLION_PAIRS_PARTS } from "./trillion_pairs.ts";

/** Options of {@linkcode listSources}. */
export interface ListSourcesOptions {
  /** Receives progress over the records of `recordio` roots. */
  reporter?: Reporter;
}

/** Lists one root by its format. */
function listRoot(
  root: RootConfig,
  index: number,
  extensions: string[],
  reporter: Reporter,
): Promise<RootListing> {
  switch (root.format ?? "folders") {
    case "folders":
      return listFolders(root, index, extensions);
    case "trillion_pairs":
      return listTrillionPairs(root, index, extensions);
    case "recordio":
      return listRecordIo(root, index, reporter);
  }
}

/**
 * Lists every identity of `roots`, sorted by name.
 *
 * Each root is read by its `format` (`folders` when absent); see the modules
 * beside this one. Roots are listed one after another, so the first root
 * at fault is the one a message names.
 *
 * NOTE: The listing keeps a reference and a name per image in memory, about
 * 110 bytes per record image (heap growth after listing 200,000 records on
 * Deno 2.9), so an estimated 1.6 GB for 15 million images.
 *
 * @param roots The `dataset.roots` entries.
 * @param extensions Image file extensions of `folders` and `trillion_pairs`
 *   roots; `recordio` roots contain encoded images of any format.
 * @param options A reporter for progress.
 * @returns Identities in code-point order of their names, the image count,
 *   and the entries skipped over all roots.
 * @throws {DatasetError} When a root is missing or cannot be parsed (see
 *   each format), or two roots give the same identity name.
 *
 * @example List a Trillion Pairs download
 * ```ts ignore
 * import { listSources } from "./list.ts";
 * const listing = await listSources(
 *   [{ path: "data/trillion_pairs", format: "trillion_pairs", prefix: "", identities: null }],
 *   ["jpg"],
 * );
 * console.log(listing.identities.length, listing.imageCount, listing.skipped.length);
 * ```
 */
export async function listSources(
  roots: RootConfig[],
  extensions: string[],
  options: ListSourcesOptions = {},
): Promise<SourceListing> {
  const reporter = options.reporter ?? silentReporter;
  const listings: RootListing[] = [];
  const rootOf = new Map<string, number>();
  for (const [index, root] of roots.entries()) {
    const listing = await listRoot(root, index, extensions, reporter);
    for (const identity of listing.identities) {
      const earlier = rootOf.get(identity.name);
      if (earlier !== undefined) {
        throw new DatasetError(
          root.path,
          `Cannot scan dataset: identity "${identity.name}" is in both "${
            roots[earlier].path
          }" and "${root.path}": give dataset.roots[${earlier}] and dataset.roots[${index}] different prefixes`,
        );
      }
      rootOf.set(identity.name, index);
    }
    listings.push(listing);
  }

  const identities: SourceIdentity[] = listings
    .flatMap((listing) => listing.identities)
    .sort((a, b) => compareCodePoints(a.name, b.name));
  return {
    identities,
    imageCount: identities.reduce((sum, id) => sum + id.images.length, 0),
    skipped: listings.flatMap((listing) => listing.skipped),
  };
}

/**
 * Returns the paths a root reads that must exist before listing: the folder
 * of a `folders` root, both part folders of a `trillion_pairs` root, and the
 * `.rec` and `.idx` files of a `recordio` root.
 */
export function rootInputPaths(root: RootConfig): string[] {
  switch (root.format ?? "folders") {
    case "folders":
      return [root.path];
    case "trillion_pairs":
      return TRILLION_PAIRS_PARTS.map((part) => join(root.path, part.folder));
    case "recordio":
      return [root.path, indexPathOf(root.path)];
  }
}

/** Returns the path that messages and the manifest show for an image. */
export function refLabel(ref: ImageRef): string {
  return ref.kind === "file" ? ref.path : `${ref.rec}#${ref.key}`;
}

/**
 * Reads the encoded bytes of one image: the whole file, or the image of one
 * record, whose parts and header are checked on the way.
 *
 * @throws {DatasetError} When the file cannot be read or the record is
 *   damaged, naming the file or `<rec>#<key>`.
 */
export async function readImageBytes(ref: ImageRef): Promise<Uint8Array> {
  try {
    if (ref.kind === "file") return await Deno.readFile(ref.path);
    return await readRecordImage(ref.rec, ref.offset);
  } catch (error) {
    const path = ref.kind === "file" ? ref.path : ref.rec;
    const detail = error instanceof RecordFormatError
      ? `damaged record: ${error.message}`
      : (error as Error).message;
    throw new DatasetError(
      path,
      `Cannot read image "${refLabel(ref)}": ${detail}`,
    );
  }
}
