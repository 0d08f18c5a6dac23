/**
 * The pairs file of the LFW "View 2" protocol and the image paths it names.
 * The file opens with `<folds> <per_fold>`. Each fold then lists `per_fold`
 * same-person lines (`name i j`) followed by `per_fold` different-person lines
 * (`name1 i name2 j`), where `i` and `j` are 1-based image numbers.
 *
 * @module
 */

import { InputError } from "../errors.ts";
import { join } from "node:path";

/** One verification pair, with 1-based image numbers as in the file. */
export interface Pair {
  name1: string;
  index1: number;
  name2: string;
  index2: number;
  /** Whether both images show the same person. */
  same: boolean;
}

/** A parsed pairs file: `folds * perFold * 2` pairs in file order. */
export interface PairsFile {
  folds: number;
  /** Same-person pairs per fold, and as many different-person pairs. */
  perFold: number;
  pairs: Pair[];
}

/** The two image files of one pair. */
export interface PairPaths {
  path1: string;
  path2: string;
}

/** Image extensions tried in order when a pair's file is looked up. */
export const DEFAULT_IMAGE_EXTENSIONS: readonly string[] = [
  "jpg",
  "jpeg",
  "png",
  "pgm",
  "bmp",
  "webp",
];

const POSITIVE_INTEGER = /^[0-9]+$/;

function parsePositiveInteger(field: string): number | null {
  if (!POSITIVE_INTEGER.test(field)) return null;
  const value = Number(field);
  return Number.isSafeInteger(value) && value > 0 ? value : null;
}

/**
 * Parses an LFW View 2 pairs file.
 *
 * Fields are separated by any run of spaces or tabs, so both the tab-separated
 * original and space-separated copies parse. CRLF line endings, trailing
 * spaces and blank lines after the last pair are accepted. A blank line
 * between pairs is rejected because it usually means a truncated or merged
 * file.
 *
 * @param text The whole file as text.
 * @param source Path or name of the file, used in error messages.
 * @returns The header values and `folds * perFold * 2` pairs in file order.
 *   Fold k contains pairs `[2k * perFold, 2(k + 1) * perFold)`, same-person pairs
 *   first.
 * @throws {SyntaxError} When the header is not two positive integers, a line
 *   has the wrong number of fields, an image number is not a positive integer,
 *   a same-person line appears where a different-person line is expected or
 *   the other way round, a same-person line names one image twice, a
 *   different-person line names one person twice, or the file contains fewer or
 *   more pairs than the header announces. The message gives `source`, the
 *   1-based line number and the line.
 *
 * @example Parse a one-fold file
 * ```ts
 * import { parsePairs } from "./pairs.ts";
 * const file = parsePairs("1\t1\nAnn\t1\t2\nAnn\t1\tBob\t3\n", "pairs.txt");
 * console.log(file.pairs.length); // 2
 * ```
 */
export function parsePairs(text: string, source: string): PairsFile {
  const lines = text.split(/\r?\n/);
  // Drop blank lines at the end only, so line numbers stay those of the file.
  let end = lines.length;
  while (end > 0 && lines[end - 1].trim() === "") end -= 1;

  function fail(lineIndex: number, problem: string): never {
    const line = lineIndex < lines.length ? lines[lineIndex] : "";
    throw new SyntaxError(
      `Cannot parse pairs file "${source}": line ${
        lineIndex + 1
      }: ${problem}: "${line}"`,
    );
  }

  if (end === 0) {
    fail(0, 'file is empty, expected a header "<folds> <per_fold>"');
  }
  const header = lines[0].trim().split(/\s+/);
  const folds = header.length === 2 ? parsePositiveInteger(header[0]) : null;
  const perFold = header.length === 2 ? parsePositiveInteger(header[1]) : null;
  if (folds === null || perFold === null) {
    fail(
      0,
      'invalid header, expected two positive integers "<folds> <per_fold>"',
    );
  }

  // Blank lines first, because they also throw the pair count off.
  for (let lineIndex = 1; lineIndex < end; lineIndex++) {
    if (lines[lineIndex].trim() === "") {
      fail(lineIndex, "blank line between pairs");
    }
  }
  const expected = folds * perFold * 2;
  const found = end - 1;
  if (found < expected) {
    fail(
      end - 1,
      `file ends after ${found} pairs, but the header announces ${expected} (${folds} folds of ${perFold} same-person and ${perFold} different-person pairs)`,
    );
  }
  if (found > expected) {
    fail(
      expected + 1,
      `file has ${found} pairs, but the header announces ${expected} (${folds} folds of ${perFold} same-person and ${perFold} different-person pairs)`,
    );
  }

  const pairs: Pair[] = [];
  for (let lineIndex = 1; lineIndex < end; lineIndex++) {
    const fields = lines[lineIndex].trim().split(/\s+/);
    // Within each fold of 2 * perFold lines, the first perFold are same-person.
    const same = (lineIndex - 1) % (2 * perFold) < perFold;

    if (fields.length !== 3 && fields.length !== 4) {
      fail(
        lineIndex,
        `expected 3 fields (name i j) or 4 fields (name1 i name2 j), found ${fields.length}`,
      );
    }
    if (same && fields.length === 4) {
      fail(
        lineIndex,
        "expected a same-person line (name i j), found a different-person line",
      );
    }
    if (!same && fields.length === 3) {
      fail(
        lineIndex,
        "expected a different-person line (name1 i name2 j), found a same-person line",
      );
    }

    const [name1, rawIndex1, name2, rawIndex2] = same
      ? [fields[0], fields[1], fields[0], fields[2]]
      : fields;
    const index1 = parsePositiveInteger(rawIndex1);
    const index2 = parsePositiveInteger(rawIndex2);
    if (index1 === null) {
      fail(lineIndex, `image number "${rawIndex1}" is not a positive integer`);
    }
    if (index2 === null) {
      fail(lineIndex, `image number "${rawIndex2}" is not a positive integer`);
    }
    if (same && index1 === index2) {
      fail(lineIndex, "same-person line pairs an image with itself");
    }
    if (!same && name1 === name2) {
      fail(lineIndex, "different-person line names the same person twice");
    }
    pairs.push({ name1, index1: index1, name2, index2: index2, same });
  }

  return { folds: folds, perFold: perFold, pairs };
}

/** Returns the file name of image `index` of `name` without its extension. */
function imageStem(name: string, index: number): string {
  return `${name}_${String(index).padStart(4, "0")}`;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * Finds the image file of every pair in an LFW-layout folder, where image
 * `i` of `name` is `<root>/<name>/<name>_<i as 4 digits>.<extension>`.
 *
 * Each image is checked on disk. The extension found for a person is tried
 * first for that person's other images, so a folder of one format costs one
 * check per image.
 *
 * @param pairs Pairs as returned by {@linkcode parsePairs}.
 * @param root Folder of per-person sub-folders.
 * @param extensions Extensions to try in order, with or without a leading dot.
 *   Defaults to {@linkcode DEFAULT_IMAGE_EXTENSIONS}.
 * @returns One entry per pair, in the order of `pairs`.
 * @throws {Error} When an image exists under none of the extensions; the
 *   message gives the pair number and the path with the first extension.
 * @throws {RangeError} When `extensions` is empty.
 */
export async function resolvePairPaths(
  pairs: readonly Pair[],
  root: string,
  extensions: readonly string[] = DEFAULT_IMAGE_EXTENSIONS,
): Promise<PairPaths[]> {
  if (extensions.length === 0) {
    throw new RangeError(
      "Cannot resolve pair images: the list of extensions is empty",
    );
  }
  const bareExtensions = extensions.map((ext) => ext.replace(/^\./, ""));
  const extensionByName = new Map<string, string>();
  const pathByImage = new Map<string, string>();

  const resolveImage = async (
    name: string,
    index: number,
    pairNumber: number,
  ): Promise<string> => {
    const stem = imageStem(name, index);
    const known = pathByImage.get(stem);
    if (known !== undefined) return known;

    const preferred = extensionByName.get(name);
    const candidates = preferred === undefined
      ? bareExtensions
      : [preferred, ...bareExtensions.filter((ext) => ext !== preferred)];
    for (const ext of candidates) {
      const path = join(root, name, `${stem}.${ext}`);
      if (await isFile(path)) {
        extensionByName.set(name, ext);
        pathByImage.set(stem, path);
        return path;
      }
    }
    const missing = join(root, name, `${stem}.${bareExtensions[0]}`);
    throw new InputError(
      `Cannot find image of pair ${pairNumber}: "${missing}" not found, nor with extension ${
        bareExtensions.slice(1).map((ext) => `.${ext}`).join(", ") || "(none)"
      }: check the evaluation set's root folder`,
    );
  };

  const result: PairPaths[] = [];
  for (let i = 0; i < pairs.length; i++) {
    const pair = pairs[i];
    const path1 = await resolveImage(pair.name1, pair.index1, i + 1);
    const path2 = await resolveImage(pair.name2, pair.index2, i + 1);
    result.push({ path1, path2 });
  }
  return result;
}
