/**
 * The insightface verification sets (`lfw.bin`, `agedb_30.bin`,
 * `cfp_fp.bin`, `calfw.bin`, `cplfw.bin`): a pickled pair `(bins,
 * issame_list)`, where `bins` lists the encoded image files (JPEG or PNG),
 * two per pair in pair order, and `issame_list` has one boolean per pair.
 * The files contain no folds; the protocol splits the pairs into contiguous
 * folds in file order, as insightface's `verification.py` does.
 *
 * @module
 */

import { PickleTuple, type PickleValue, readPickle } from "./pickle.ts";

/** The contents of a verification `.bin` file. */
export interface VerificationBin {
  /** Encoded image files, `[2 * P]`: pair p uses images 2p and 2p + 1. */
  images: Uint8Array[];
  /** Whether each pair shows one person, `[P]`. */
  issame: boolean[];
}

function describe(value: PickleValue): string {
  if (value === null) return "None";
  if (value instanceof Uint8Array) return `bytes of length ${value.length}`;
  if (value instanceof PickleTuple) {
    return `a tuple of ${value.items.length} items`;
  }
  if (Array.isArray(value)) return `a list of ${value.length} items`;
  return `${typeof value} ${JSON.stringify(value)}`;
}

/**
 * Checks the structure of an unpickled `.bin` value and returns its images
 * and labels.
 *
 * The value must be a tuple (or a list, which Python unpacks the same way)
 * of two lists: byte strings, and booleans with exactly one per two images.
 *
 * @param value The unpickled value.
 * @param source The file name, for messages.
 * @returns The images and labels; the byte strings are not copied.
 * @throws {SyntaxError} When the structure differs, naming the first
 *   offending item.
 */
export function parseVerificationBin(
  value: PickleValue,
  source: string,
): VerificationBin {
  const fail = (detail: string): never => {
    throw new SyntaxError(
      `Cannot read verification set "${source}": ${detail}: expected a pickled (bins, issame_list) as insightface writes it`,
    );
  };
  const top = value instanceof PickleTuple ? value.items : value;
  if (!Array.isArray(top) || top.length !== 2) {
    fail(`the pickle contains ${describe(value)}`);
  }
  const [bins, labels] = top as PickleValue[];
  if (!Array.isArray(bins)) fail(`item 0 is ${describe(bins)}, not a list`);
  if (!Array.isArray(labels)) fail(`item 1 is ${describe(labels)}, not a list`);
  const images = bins as PickleValue[];
  const issame = labels as PickleValue[];
  images.forEach((image, i) => {
    if (!(image instanceof Uint8Array)) {
      fail(`image ${i} is ${describe(image)}, not bytes`);
    }
  });
  issame.forEach((label, i) => {
    if (typeof label !== "boolean") {
      fail(`label ${i} is ${describe(label)}, not a bool`);
    }
  });
  if (issame.length === 0) fail("the set has no pairs");
  if (images.length !== 2 * issame.length) {
    fail(
      `${images.length} images for ${issame.length} pairs, but each pair needs two`,
    );
  }
  return { images: images as Uint8Array[], issame: issame as boolean[] };
}

/**
 * Reads an insightface verification `.bin` file.
 *
 * @param path The file.
 * @returns The encoded images and the labels; the images are not decoded.
 * @throws {Deno.errors.NotFound} When the file does not exist.
 * @throws {SyntaxError} When the file is not a pickle of the expected
 *   structure, or uses an opcode that would run Python code; see
 *   {@linkcode readPickle}.
 */
export async function readVerificationBin(
  path: string,
): Promise<VerificationBin> {
  const bytes = await Deno.readFile(path);
  return parseVerificationBin(readPickle(bytes, path), path);
}
