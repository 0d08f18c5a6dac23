/**
 * `deno task make-pairs`: writes an LFW-layout evaluation set with a View 2
 * style pairs.txt from any identity-folder set.
 *
 * @module
 */

import { parseFlags, runTask, terminalReporter, UsageError } from "./_cli.ts";
import { makePairsSet } from "../src/data/make_pairs.ts";

const USAGE =
  `Usage: deno task make-pairs --root DIR --out DIR [--folds 10] [--per-fold N] [--seed N]

  --root DIR      identity folders: DIR/<identity>/<image>
  --out DIR       where DIR/<name>/<name>_NNNN.png and DIR/pairs.txt are written
  --folds N       folds (default 10)
  --per-fold N    same-person pairs per fold, and as many different-person pairs (default 30)
  --seed N        seed of the pair draw (default 20180419)`;

function integerFlag(
  flag: string,
  text: string | undefined,
  fallback: number,
  minimum: number,
): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < minimum) {
    throw new UsageError(
      `Invalid ${flag} "${text}": expected an integer >= ${minimum}`,
    );
  }
  return value;
}

await runTask(async () => {
  const { values } = parseFlags(Deno.args, {
    root: { type: "string" },
    out: { type: "string" },
    folds: { type: "string" },
    "per-fold": { type: "string" },
    seed: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (values.root === undefined || values.out === undefined) {
    throw new UsageError("--root and --out are required");
  }
  const result = await makePairsSet(
    {
      root: values.root,
      identities: null,
      folds: integerFlag("--folds", values.folds, 10, 1),
      per_fold: integerFlag("--per-fold", values["per-fold"], 30, 1),
    },
    {
      seed: integerFlag("--seed", values.seed, 20180419, 0),
      outDir: values.out,
      extensions: ["jpg", "jpeg", "png", "pgm", "bmp", "webp"],
      reporter: terminalReporter(),
    },
  );
  console.log(
    `${result.pairsPath}: ${result.pairs} pairs of ${result.identities} identities (${result.images} images, ${result.unreadable.length} unreadable)`,
  );
}, USAGE);
