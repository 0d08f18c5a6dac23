/**
 * The `trillion_pairs` source: the training data of the Trillion Pairs
 * challenge as it unpacks, two parts of identity folders under one root
 * (`train_celebrity/celebrity/<id>/*.jpg` and `train_msra/msra/<id>/*.jpg`).
 * Both parts form one label space, with the part name prefixed to each
 * identity (`celebrity_<id>`, `msra_<id>`), so an id present in both parts
 * gives two identities.
 *
 * Both parts must be present. A download with one part is read as a
 * `folders` root at that part's folder, with prefix `celebrity_` or `msra_`
 * to keep the same names.
 *
 * @module
 */

import { join } from "node:path";
import type { RootConfig } from "../../config/types.ts";
import { DatasetError } from "../dataset_error.ts";
import { checkRoot, identityFolders } from "../scan.ts";
import { listIdentityFolders, type RootListing } from "./folders.ts";

/** A part of the download: its name and its folder under the root. */
export interface TrillionPairsPart {
  name: string;
  folder: string;
}

/** The two parts, in the order they are listed. */
export const TRILLION_PAIRS_PARTS: readonly TrillionPairsPart[] = [
  { name: "celebrity", folder: join("train_celebrity", "celebrity") },
  { name: "msra", folder: join("train_msra", "msra") },
];

/** Checks that a part's folder exists and is a folder. */
async function checkPart(
  root: RootConfig,
  index: number,
  part: TrillionPairsPart,
): Promise<string> {
  const folder = join(root.path, part.folder);
  const other = TRILLION_PAIRS_PARTS.find((entry) => entry !== part)!;
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(folder);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new DatasetError(
        folder,
        `Cannot scan dataset: Trillion Pairs part "${part.name}" not found: expected folder "${folder}" (dataset.roots[${index}] has format trillion_pairs): unpack that part there, or read the ${other.name} part alone as a folders root at "${
          join(root.path, other.folder)
        }" with prefix "${other.name}_"`,
      );
    }
    throw error;
  }
  if (!info.isDirectory) {
    throw new DatasetError(
      folder,
      `Cannot scan dataset: "${folder}" is a file, not a folder: expected the Trillion Pairs part "${part.name}" there, with one sub-folder per identity`,
    );
  }
  return folder;
}

/**
 * Splits the root's identity filter by part, stripping the part prefix.
 *
 * @returns Folder names per part name; `null` when the root has no filter.
 * @throws {DatasetError} When a filter entry names no part.
 */
function filterByPart(
  root: RootConfig,
  index: number,
): Map<string, string[]> | null {
  if (root.identities === null) return null;
  const byPart = new Map<string, string[]>(
    TRILLION_PAIRS_PARTS.map((part) => [part.name, []]),
  );
  for (const name of root.identities) {
    const part = TRILLION_PAIRS_PARTS.find((entry) =>
      name.startsWith(`${entry.name}_`)
    );
    if (part === undefined) {
      throw new DatasetError(
        root.path,
        `Cannot scan dataset: identity "${name}" in dataset.roots[${index}].identities names no Trillion Pairs part: expected "celebrity_<folder>" or "msra_<folder>"`,
      );
    }
    byPart.get(part.name)!.push(name.slice(part.name.length + 1));
  }
  return byPart;
}

/**
 * Lists a `trillion_pairs` root: the identity folders of both parts, named
 * `<prefix><part>_<folder>`, after the root's identity filter.
 *
 * @param root The root entry; `path` is the folder holding `train_celebrity`
 *   and `train_msra`.
 * @param index Position of the root in `dataset.roots`, for messages.
 * @param extensions Image file extensions.
 * @throws {DatasetError} When the root or a part is missing, a part has no
 *   identity folders, or a filter entry names no part or a missing folder.
 */
export async function listTrillionPairs(
  root: RootConfig,
  index: number,
  extensions: string[],
): Promise<RootListing> {
  await checkRoot(root, index);
  const folders = [];
  for (const part of TRILLION_PAIRS_PARTS) {
    folders.push(await checkPart(root, index, part));
  }
  const filter = filterByPart(root, index);

  const partListings: RootListing[] = [];
  for (const [i, part] of TRILLION_PAIRS_PARTS.entries()) {
    const partRoot = { path: folders[i], prefix: "", identities: null };
    let names = await identityFolders(partRoot, index);
    const requested = filter?.get(part.name);
    if (requested !== undefined) {
      const present = new Set(names);
      const missing = requested.find((name) => !present.has(name));
      if (missing !== undefined) {
        throw new DatasetError(
          join(folders[i], missing),
          `Cannot scan dataset: identity folder "${
            join(folders[i], missing)
          }" not found: remove "${part.name}_${missing}" from dataset.roots[${index}].identities`,
        );
      }
      const selected = new Set(requested);
      names = names.filter((name) => selected.has(name));
    }
    partListings.push(
      await listIdentityFolders(
        folders[i],
        names,
        `${root.prefix}${part.name}_`,
        extensions,
      ),
    );
  }
  return {
    identities: partListings.flatMap((listing) => listing.identities),
    skipped: partListings.flatMap((listing) => listing.skipped),
  };
}
