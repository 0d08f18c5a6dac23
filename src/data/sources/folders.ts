/**
 * The `folders` source: one sub-folder per identity, each holding that
 * identity's image files (`<root>/<identity>/<image>`). The Trillion Pairs
 * parts, AT&T and LFW are laid out this way.
 *
 * @module
 */

import { extname, join } from "node:path";
import type { RootConfig } from "../../config/types.ts";
import { mapPool } from "../_pool.ts";
import {
  checkRoot,
  identityFolders,
  listEntries,
  naturalCompare,
} from "../scan.ts";
import type { ImageRef, SkippedEntry, SourceIdentity } from "./source.ts";

/** Identity folders listed at once. */
const LIST_CONCURRENCY = 8;

/** Identities of one root and the entries it could not use. */
export interface RootListing {
  /** In no particular order; `listSources` sorts all roots together. */
  identities: SourceIdentity[];
  skipped: SkippedEntry[];
}

/**
 * Returns whether a file name has one of `extensions`, compared without case
 * and with or without a leading dot.
 */
function imageMatcher(extensions: string[]): (name: string) => boolean {
  const expected = new Set(
    extensions.map((ext) => ext.replace(/^\./, "").toLowerCase()),
  );
  return (name) => expected.has(extname(name).slice(1).toLowerCase());
}

/** Describes why a file in an identity folder is skipped. */
function notImageReason(file: string, extensions: string[]): string {
  const allowed = `dataset.extensions (${extensions.join(", ")})`;
  const extension = extname(file);
  return extension === ""
    ? `not an image: no file extension, expected one of ${allowed}`
    : `not an image: extension "${extension}" is not one of ${allowed}`;
}

/**
 * Lists the images of identity folders under `parent`.
 *
 * Files whose extension is not in `extensions` are listed as skipped, so a
 * stray file in an identity folder is counted rather than lost. An identity
 * folder without images is listed with empty `images`.
 *
 * @param parent The folder holding the identity folders.
 * @param folderNames The identity folders to list.
 * @param namePrefix Prepended to each folder name to form the identity name.
 * @param extensions Image file extensions, such as `["jpg", "png"]`.
 * @returns One identity per folder, images in natural order.
 * @throws {DatasetError} When a folder cannot be listed or a link loops.
 */
export async function listIdentityFolders(
  parent: string,
  folderNames: string[],
  namePrefix: string,
  extensions: string[],
): Promise<RootListing> {
  const isImage = imageMatcher(extensions);
  const listed = await mapPool(folderNames, LIST_CONCURRENCY, async (name) => {
    const folder = join(parent, name);
    const files = await listEntries(folder, "file");
    const imageFiles = files.filter(isImage).sort(naturalCompare);
    const skipped = files.filter((file) => !isImage(file)).map((file) => ({
      path: join(folder, file),
      reason: notImageReason(file, extensions),
    }));
    const identity: SourceIdentity = {
      name: namePrefix + name,
      images: imageFiles.map((file): ImageRef => ({
        kind: "file",
        path: join(folder, file),
      })),
      imageNames: imageFiles,
    };
    return { identity, skipped };
  });
  return {
    identities: listed.map((entry) => entry.identity),
    skipped: listed.flatMap((entry) => entry.skipped),
  };
}

/**
 * Lists a `folders` root: its identity folders, after the root's identity
 * filter, named by the root's prefix followed by the folder name.
 *
 * @param root The root entry.
 * @param index Position of the root in `dataset.roots`, for messages.
 * @param extensions Image file extensions.
 * @throws {DatasetError} When the root is missing, is a file or has no
 *   identity folders, or when a filtered identity folder is missing.
 */
export async function listFolders(
  root: RootConfig,
  index: number,
  extensions: string[],
): Promise<RootListing> {
  await checkRoot(root, index);
  const names = await identityFolders(root, index);
  return await listIdentityFolders(root.path, names, root.prefix, extensions);
}
