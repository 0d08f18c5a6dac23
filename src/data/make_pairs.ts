/**
 * Makes an evaluation set in the layout of Labeled Faces in the Wild from any
 * identity-folder set: `<name>/<name>_<NNNN>.png` images and a `pairs.txt` in
 * the format of LFW View 2 (folds of same-person and different-person pairs).
 *
 * @module
 */

import { join, resolve } from "node:path";
import type { MakePairsConfig } from "../config/types.ts";
import { writeFileAtomic, writeTextAtomic } from "../fs.ts";
import { type Reporter, silentReporter } from "../report.ts";
import { deriveRng, type Rng } from "../rng.ts";
import { mapPool } from "./_pool.ts";
import type { UnreadableImage } from "./build.ts";
import { DatasetError } from "./dataset_error.ts";
import { decodeImage, encodePng } from "./image.ts";
import { compareCodePoints, scanRoots } from "./scan.ts";

/**
 * One line of a pairs file: a same-person pair when `name1 === name2`.
 * Indices are 1-based, as in the file names `<name>_<NNNN>`.
 */
export interface Pair {
  name1: string;
  index1: number;
  name2: string;
  index2: number;
}

/** An identity of an LFW-layout set and its number of images. */
export interface PairsIdentity {
  name: string;
  images: number;
}

/** Options of {@linkcode drawPairs}. */
export interface DrawPairsOptions {
  seed: number;
  folds: number;
  /** Same-person pairs per fold, and as many different-person pairs. */
  perFold: number;
  /** Prefix of the generator names; default `make_pairs`. */
  namespace?: string;
}

/** Attempts of random draws per needed pair before listing every candidate. */
const ATTEMPTS_PER_PAIR = 20;

/** Images decoded at once per identity. */
const COPY_CONCURRENCY = 4;

function pairKey(pair: Pair): string {
  return `${pair.name1}\t${pair.index1}\t${pair.name2}\t${pair.index2}`;
}

function comparePairs(a: Pair, b: Pair): number {
  return compareCodePoints(a.name1, b.name1) || a.index1 - b.index1 ||
    compareCodePoints(a.name2, b.name2) || a.index2 - b.index2;
}

/**
 * Splits identities over folds as LFW does, each identity in one fold, when
 * there are at least as many identities as folds. Identities with two or
 * more images are dealt out first, so every fold gets its share of them.
 * With fewer identities, every fold draws from all of them.
 */
async function splitFolds(
  identities: PairsIdentity[],
  options: DrawPairsOptions & { namespace: string },
): Promise<PairsIdentity[][]> {
  const { folds } = options;
  // A fold needs two identities for its different-person pairs.
  if (identities.length < 2 * folds) {
    return Array.from({ length: folds }, () => identities);
  }
  const rng = await deriveRng(options.seed, `${options.namespace}/split`);
  const multi = rng.shuffle(identities.filter((id) => id.images >= 2));
  const single = rng.shuffle(identities.filter((id) => id.images === 1));
  const split: PairsIdentity[][] = Array.from({ length: folds }, () => []);
  [...multi, ...single].forEach((id, k) => split[k % folds].push(id));
  return split.map((members) =>
    members.sort((a, b) => compareCodePoints(a.name, b.name))
  );
}

/**
 * Draws the pairs of an evaluation protocol in the style of LFW View 2: for
 * each fold, `perFold` same-person pairs and then `perFold` different-person
 * pairs, each block sorted by name and index.
 *
 * Fold f, counted from 0, draws with `deriveRng(seed, "<namespace>/<f>")`,
 * and the split of identities over folds uses `"<namespace>/split"`. Each
 * identity belongs to one fold when there are at least two identities per
 * fold; with fewer, the folds share identities (so the threshold chosen on
 * nine folds has seen the people of the tenth) but never repeat a pair. A same-person pair draws an
 * identity uniformly and then two distinct images of it. A different-person
 * pair draws two identities and one image of each, with the names in
 * code-point order. No pair appears twice in the whole set.
 *
 * @param identities The set, with at least one image per identity.
 * @param options Seed, folds and pairs per fold.
 * @returns `folds * 2 * perFold` pairs in file order.
 * @throws {RangeError} When a fold cannot get `perFold` distinct pairs of a
 *   kind; the message gives the fold, the identities and the pairs possible.
 */
export async function drawPairs(
  identities: PairsIdentity[],
  options: DrawPairsOptions,
): Promise<Pair[]> {
  const { folds, perFold } = options;
  const namespace = options.namespace ?? "make_pairs";
  if (!Number.isInteger(folds) || folds < 1) {
    throw new RangeError(
      `Cannot draw pairs: folds must be a positive integer, got ${folds}`,
    );
  }
  if (!Number.isInteger(perFold) || perFold < 0) {
    throw new RangeError(
      `Cannot draw pairs: per_fold must be a non-negative integer, got ${perFold}`,
    );
  }
  const present = identities
    .filter((id) => id.images >= 1)
    .sort((a, b) => compareCodePoints(a.name, b.name));
  const split = await splitFolds(present, { ...options, namespace });

  const used = new Set<string>();
  const pairs: Pair[] = [];
  for (const [fold, members] of split.entries()) {
    const rng = await deriveRng(options.seed, `${namespace}/${fold}`);
    const context = { fold, folds, perFold, used };
    pairs.push(...drawSame(members, rng, context));
    pairs.push(...drawDifferent(members, rng, context));
  }
  return pairs;
}

interface FoldContext {
  fold: number;
  folds: number;
  perFold: number;
  /** Keys of the pairs already drawn, in this fold and earlier ones. */
  used: Set<string>;
}

function drawSame(
  members: PairsIdentity[],
  rng: Rng,
  context: FoldContext,
): Pair[] {
  const eligible = members.filter((id) => id.images >= 2);
  const candidates = () =>
    eligible.flatMap((id) =>
      Array.from(
        { length: id.images - 1 },
        (_, a) =>
          Array.from({ length: id.images - a - 1 }, (_, b) => ({
            name1: id.name,
            index1: a + 1,
            name2: id.name,
            index2: a + b + 2,
          })),
      ).flat()
    );
  const random = (): Pair => {
    const id = eligible[rng.int(eligible.length)];
    const first = rng.int(id.images);
    let second = rng.int(id.images - 1);
    if (second >= first) second++;
    return {
      name1: id.name,
      index1: Math.min(first, second) + 1,
      name2: id.name,
      index2: Math.max(first, second) + 1,
    };
  };
  return drawBlock(eligible.length > 0 ? random : null, candidates, {
    ...context,
    kind: "same-person",
    pool: `${eligible.length} identities with 2 or more images`,
    rng,
  });
}

function drawDifferent(
  members: PairsIdentity[],
  rng: Rng,
  context: FoldContext,
): Pair[] {
  const candidates = () =>
    members.flatMap((a, ia) =>
      members.slice(ia + 1).flatMap((b) =>
        Array.from({ length: a.images * b.images }, (_, k) => ({
          name1: a.name,
          index1: Math.floor(k / b.images) + 1,
          name2: b.name,
          index2: (k % b.images) + 1,
        }))
      )
    );
  const random = (): Pair => {
    const first = rng.int(members.length);
    let second = rng.int(members.length - 1);
    if (second >= first) second++;
    // Members are sorted by name, so the lower index comes first.
    const a = members[Math.min(first, second)];
    const b = members[Math.max(first, second)];
    return {
      name1: a.name,
      index1: rng.int(a.images) + 1,
      name2: b.name,
      index2: rng.int(b.images) + 1,
    };
  };
  return drawBlock(members.length >= 2 ? random : null, candidates, {
    ...context,
    kind: "different-person",
    pool: `${members.length} identities`,
    rng,
  });
}

/**
 * Draws `perFold` unused pairs: random draws first, then, when too many of
 * them repeat, a uniform sample of every unused candidate.
 */
function drawBlock(
  random: (() => Pair) | null,
  candidates: () => Pair[],
  context: FoldContext & { kind: string; pool: string; rng: Rng },
): Pair[] {
  const { perFold, used, rng } = context;
  const block: Pair[] = [];
  const add = (pair: Pair) => {
    used.add(pairKey(pair));
    block.push(pair);
  };
  let attempts = ATTEMPTS_PER_PAIR * perFold;
  while (random !== null && block.length < perFold && attempts-- > 0) {
    const pair = random();
    if (!used.has(pairKey(pair))) add(pair);
  }
  if (block.length < perFold) {
    const unused = random === null
      ? []
      : candidates().filter((pair) => !used.has(pairKey(pair)));
    const missing = perFold - block.length;
    if (unused.length < missing) {
      const available = unused.length + block.length;
      throw new RangeError(
        `Cannot draw pairs: fold ${
          context.fold + 1
        } of ${context.folds} needs ${perFold} ${context.kind} pairs, but its ${context.pool} give only ${available} unused ones: lower per_fold or folds, or add identities and images`,
      );
    }
    for (const index of rng.sampleIndices(unused.length, missing)) {
      add(unused[index]);
    }
  }
  return block.sort(comparePairs);
}

/**
 * Writes a pairs file in the format of LFW View 2: a first line
 * `<folds>\t<perFold>`, then per fold `perFold` same-person lines
 * `name\ti\tj` followed by `perFold` different-person lines
 * `name1\ti\tname2\tj`.
 *
 * @param path The file to write, atomically.
 * @param folds Number of folds.
 * @param perFold Pairs of each kind per fold.
 * @param pairs `folds * 2 * perFold` pairs in file order.
 * @throws {RangeError} When the count or the order of same-person and
 *   different-person pairs does not match `folds` and `perFold`.
 */
export async function writePairsFile(
  path: string,
  folds: number,
  perFold: number,
  pairs: readonly Pair[],
): Promise<void> {
  if (pairs.length !== folds * 2 * perFold) {
    throw new RangeError(
      `Cannot write pairs file "${path}": expected ${folds} x 2 x ${perFold} = ${
        folds * 2 * perFold
      } pairs, got ${pairs.length}`,
    );
  }
  const lines = [`${folds}\t${perFold}`];
  for (const [k, pair] of pairs.entries()) {
    const shouldBeSame = k % (2 * perFold) < perFold;
    if ((pair.name1 === pair.name2) !== shouldBeSame) {
      throw new RangeError(
        `Cannot write pairs file "${path}": pair ${k + 1} should be a ${
          shouldBeSame ? "same" : "different"
        }-person pair`,
      );
    }
    lines.push(
      shouldBeSame
        ? `${pair.name1}\t${pair.index1}\t${pair.index2}`
        : `${pair.name1}\t${pair.index1}\t${pair.name2}\t${pair.index2}`,
    );
  }
  await writeTextAtomic(path, lines.join("\n") + "\n");
}

/** Options of {@linkcode makePairsSet}. */
export interface MakePairsOptions {
  seed: number;
  /** The folder of the LFW-layout set; must not be the source root. */
  outDir: string;
  /** Image file extensions to read, as in `dataset.extensions`. */
  extensions: string[];
  reporter?: Reporter;
}

/** Paths and counts of the set written by {@linkcode makePairsSet}. */
export interface MakePairsResult {
  root: string;
  pairsPath: string;
  identities: number;
  images: number;
  pairs: number;
  /** Source images that failed to decode, left out of the set. */
  unreadable: UnreadableImage[];
}

/**
 * Writes an identity-folder set in the LFW layout with a pairs file.
 *
 * Images of `<cfg.root>/<name>/` are re-encoded as PNG, at their own size, to
 * `<outDir>/<name>/<name>_<NNNN>.png`, numbered from 1 in natural order of
 * the source names. A source that fails to decode is skipped, so the
 * numbering has no gaps. Identity folders without images are left out. The
 * pairs come from {@linkcode drawPairs} with the generator names
 * `make_pairs/<fold>`.
 *
 * NOTE: Files of an earlier, larger run in `outDir` are not deleted. Only
 * pairs.txt is removed first, and the pairs refer only to the new images.
 *
 * @param cfg The source folder, identity filter, folds and pairs per fold.
 * @param options Seed, output folder, extensions and reporter.
 * @returns The paths written and the counts.
 * @throws {DatasetError} When scanning fails, an identity name contains
 *   whitespace, or `outDir` is the source folder.
 * @throws {RangeError} When the set cannot give enough distinct pairs.
 *
 * @example Make pairs from the AT&T faces
 * ```ts ignore
 * import { makePairsSet } from "./make_pairs.ts";
 * await makePairsSet(
 *   { root: "../shared/data/att_faces", identities: null, folds: 10, per_fold: 30 },
 *   { seed: 1, outDir: "results/att_lfw", extensions: ["pgm"] },
 * );
 * ```
 */
export async function makePairsSet(
  cfg: MakePairsConfig,
  options: MakePairsOptions,
): Promise<MakePairsResult> {
  const { outDir } = options;
  const reporter = options.reporter ?? silentReporter;
  if (resolve(outDir) === resolve(cfg.root)) {
    throw new DatasetError(
      outDir,
      `Cannot make pairs: output folder "${outDir}" is the source folder: choose another output folder`,
    );
  }
  const scan = await scanRoots(
    [{ path: cfg.root, prefix: "", identities: cfg.identities }],
    options.extensions,
  );
  const identities = scan.identities.filter((id) => id.images.length > 0);
  const spaced = identities.find((id) => /\s/.test(id.name));
  if (spaced !== undefined) {
    throw new DatasetError(
      spaced.folder,
      `Cannot make pairs: identity name "${spaced.name}" contains whitespace, which pairs.txt cannot hold: rename the folder`,
    );
  }
  const pairsPath = join(outDir, "pairs.txt");
  await Deno.remove(pairsPath).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });

  // Copy the images, numbering the readable ones of each identity from 1.
  const bar = reporter.progress("make-pairs", scan.imageCount, "images");
  let done = 0;
  const unreadable: UnreadableImage[] = [];
  const counts: PairsIdentity[] = [];
  for (const identity of identities) {
    const pngs = await mapPool(
      identity.images,
      COPY_CONCURRENCY,
      async (path) => {
        const result = await decodeImage(path).then(
          encodePng,
          (error: Error) => ({ path, error: error.message }),
        );
        bar.update(++done);
        return result;
      },
    );
    let index = 0;
    for (const png of pngs) {
      if (!(png instanceof Uint8Array)) {
        unreadable.push(png);
        reporter.record({ event: "make_pairs_unreadable", ...png });
        continue;
      }
      index++;
      const file = `${identity.name}_${String(index).padStart(4, "0")}.png`;
      await writeFileAtomic(join(outDir, identity.name, file), png);
    }
    if (index > 0) counts.push({ name: identity.name, images: index });
  }

  const pairs = await drawPairs(counts, {
    seed: options.seed,
    folds: cfg.folds,
    perFold: cfg.per_fold,
  });
  await writePairsFile(pairsPath, cfg.folds, cfg.per_fold, pairs);
  const images = counts.reduce((sum, id) => sum + id.images, 0);
  reporter.info(
    `make-pairs: ${counts.length} identities, ${images} images, ${pairs.length} pairs in ${cfg.folds} folds`,
  );
  return {
    root: outDir,
    pairsPath,
    identities: counts.length,
    images,
    pairs: pairs.length,
    unreadable,
  };
}
