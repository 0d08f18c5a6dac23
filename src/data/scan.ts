/**
 * Lists the identities and images of the dataset roots. Each root contains one
 * sub-folder per identity, and each sub-folder contains that identity's images
 * (`<root>/<identity>/<image>`), as the Trillion Pairs and AT&T sets do.
 *
 * @module
 */

import { extname, join } from "node:path";
import type { RootConfig } from "../config/types.ts";
import { mapPool } from "./_pool.ts";
import { DatasetError } from "./dataset_error.ts";

/** One identity folder and its image files. */
export interface ScannedIdentity {
  /** The root's prefix followed by the folder name. */
  name: string;
  /** Index of the root in the list passed to {@linkcode scanRoots}. */
  root: number;
  folder: string;
  /** Image paths (folder joined with file name), in natural order. */
  images: string[];
}

/** Identities and image count found by {@linkcode scanRoots}. */
export interface ScanResult {
  /** Every identity folder, including empty ones, sorted by name. */
  identities: ScannedIdentity[];
  /** Image files over all identities. */
  imageCount: number;
}

/** Folders listed at once while scanning. */
const SCAN_CONCURRENCY = 8;

const DIGIT_RUNS = /(\d+)/;

/**
 * Compares two names with runs of digits read as numbers, so `2.pgm` sorts
 * before `10.pgm`. Names that tie this way (`01` and `1`) fall back to
 * code-point order, so the order is total.
 */
export function naturalCompare(a: string, b: string): number {
  const partsA = a.split(DIGIT_RUNS);
  const partsB = b.split(DIGIT_RUNS);
  const shared = Math.min(partsA.length, partsB.length);
  // split() with a capturing group alternates text and digits, text first.
  for (let k = 0; k < shared; k++) {
    const order = k % 2 === 1
      ? compareDigits(partsA[k], partsB[k])
      : compareCodePoints(partsA[k], partsB[k]);
    if (order !== 0) return order;
  }
  if (partsA.length !== partsB.length) return partsA.length - partsB.length;
  return compareCodePoints(a, b);
}

/** Compares two digit strings as numbers of any length. */
function compareDigits(a: string, b: string): number {
  const trimmedA = a.replace(/^0+/, "");
  const trimmedB = b.replace(/^0+/, "");
  if (trimmedA.length !== trimmedB.length) {
    return trimmedA.length - trimmedB.length;
  }
  return compareCodePoints(trimmedA, trimmedB);
}

/** Compares by code point, unlike `localeCompare`, so every machine agrees. */
export function compareCodePoints(a: string, b: string): number {
  if (a < b) return -1;
  if (a > b) return 1;
  return 0;
}

/** Returns whether a directory entry is a folder or a file, following links. */
async function entryKind(
  path: string,
  entry: Deno.DirEntry,
): Promise<"folder" | "file" | "other"> {
  let info: { isDirectory: boolean; isFile: boolean } = entry;
  if (entry.isSymlink) {
    try {
      info = await Deno.stat(path);
    } catch (error) {
      // A dangling link is neither an identity nor an image.
      if (error instanceof Deno.errors.NotFound) return "other";
      if (error instanceof Deno.errors.FilesystemLoop) {
        throw symlinkLoopError(path);
      }
      throw error;
    }
  }
  if (info.isDirectory) return "folder";
  if (info.isFile) return "file";
  return "other";
}

/** Returns the error for a symbolic link that resolves back to itself. */
function symlinkLoopError(path: string): DatasetError {
  return new DatasetError(
    path,
    `Cannot scan dataset: symbolic link "${path}" loops (too many levels of symbolic links): remove it, or point it at a folder or an image`,
  );
}

/** Lists a folder's non-hidden entries of one kind, in code-point order. */
export async function listEntries(
  folder: string,
  kind: "folder" | "file",
): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(folder)) {
      if (entry.name.startsWith(".")) continue;
      if (await entryKind(join(folder, entry.name), entry) === kind) {
        names.push(entry.name);
      }
    }
  } catch (error) {
    if (error instanceof Deno.errors.PermissionDenied) {
      throw new DatasetError(
        folder,
        `Cannot scan dataset: folder "${folder}" cannot be listed (permission denied): give the user running the task read and execute rights on it (chmod a+rx), or remove it`,
      );
    }
    throw error;
  }
  return names.sort(compareCodePoints);
}

/** Checks that a root exists and is a folder. */
export async function checkRoot(
  root: RootConfig,
  index: number,
): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(root.path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new DatasetError(
        root.path,
        `Cannot scan dataset: folder "${root.path}" not found: set dataset.roots[${index}].path, or use --profile smoke for the embedded data`,
      );
    }
    if (error instanceof Deno.errors.FilesystemLoop) {
      throw symlinkLoopError(root.path);
    }
    throw error;
  }
  if (!info.isDirectory) {
    throw new DatasetError(
      root.path,
      `Cannot scan dataset: "${root.path}" is a file, not a folder: set dataset.roots[${index}].path to a folder of identity sub-folders`,
    );
  }
}

/** Returns the identity folder names of one root, after its filter. */
export async function identityFolders(
  root: RootConfig,
  index: number,
): Promise<string[]> {
  const folders = await listEntries(root.path, "folder");
  if (root.identities !== null) {
    const present = new Set(folders);
    const missing = root.identities.find((name) => !present.has(name));
    if (missing !== undefined) {
      throw new DatasetError(
        join(root.path, missing),
        `Cannot scan dataset: identity folder "${
          join(root.path, missing)
        }" not found: remove "${missing}" from dataset.roots[${index}].identities`,
      );
    }
    const wanted = new Set(root.identities);
    return folders.filter((name) => wanted.has(name));
  }
  if (folders.length === 0) {
    throw new DatasetError(
      root.path,
      `Cannot scan dataset: folder "${root.path}" has no identity sub-folders: expected images at ${root.path}/<identity>/<image>`,
    );
  }
  return folders;
}

/**
 * Lists every identity and its images under the dataset roots.
 *
 * Identity names are the root's prefix plus the folder name. Images are the
 * files whose extension (case-insensitive, with or without a leading dot) is
 * in `extensions`. Hidden entries (names starting with `.`) are skipped and
 * symbolic links are followed. Identity folders without images are listed
 * with an empty `images`.
 *
 * @param roots The roots, with an optional list of identity folders each.
 * @param extensions Image file extensions, such as `["jpg", "png"]`.
 * @returns Identities sorted by name in code-point order, with images in
 *   natural order (`2.jpg` before `10.jpg`).
 * @throws {DatasetError} When a root is missing, is a file, has no identity
 *   folders or a format other than `folders`, when a listed identity folder
 *   is missing, when two roots give the same identity name, or when a
 *   symbolic link loops.
 *
 * @example Scan one root
 * ```ts ignore
 * import { scanRoots } from "./scan.ts";
 * const scan = await scanRoots(
 *   [{ path: "data/att_faces", prefix: "att_", identities: null }],
 *   ["pgm"],
 * );
 * console.log(scan.identities.length, scan.imageCount); // 40 400
 * ```
 */
export async function scanRoots(
  roots: RootConfig[],
  extensions: string[],
): Promise<ScanResult> {
  const wanted = new Set(
    extensions.map((ext) => ext.replace(/^\./, "").toLowerCase()),
  );
  const isImage = (name: string) =>
    wanted.has(extname(name).slice(1).toLowerCase());

  const folders: { name: string; root: number; folder: string }[] = [];
  const rootOf = new Map<string, number>();
  for (const [index, root] of roots.entries()) {
    // A Trillion Pairs root or a .rec file read as folders would give wrong
    // identities without an error.
    if ((root.format ?? "folders") !== "folders") {
      throw new DatasetError(
        root.path,
        `Cannot scan dataset: dataset.roots[${index}] has format "${root.format}", which scanRoots does not read: list it with listSources (src/data/sources/list.ts)`,
      );
    }
    await checkRoot(root, index);
    for (const folderName of await identityFolders(root, index)) {
      const name = root.prefix + folderName;
      const earlier = rootOf.get(name);
      if (earlier !== undefined) {
        throw new DatasetError(
          root.path,
          `Cannot scan dataset: identity "${name}" is in both "${
            roots[earlier].path
          }" and "${root.path}": give dataset.roots[${earlier}] and dataset.roots[${index}] different prefixes`,
        );
      }
      rootOf.set(name, index);
      folders.push({ name, root: index, folder: join(root.path, folderName) });
    }
  }
  folders.sort((a, b) => compareCodePoints(a.name, b.name));

  const identities = await mapPool(folders, SCAN_CONCURRENCY, async (entry) => {
    const files = (await listEntries(entry.folder, "file")).filter(isImage);
    files.sort(naturalCompare);
    return { ...entry, images: files.map((file) => join(entry.folder, file)) };
  });
  const imageCount = identities.reduce((sum, id) => sum + id.images.length, 0);
  return { identities, imageCount };
}
