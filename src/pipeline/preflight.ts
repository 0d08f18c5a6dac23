/**
 * Checks, before a run creates anything, that the data a profile needs is
 * where the config points, so a missing folder stops the run at once with the
 * path it looked at and what to do.
 *
 * @module
 */

import { requireAssets } from "../pretrained/assets.ts";
import type { Config } from "../config/types.ts";
import { rootInputPaths } from "../data/sources/list.ts";
import { exists } from "../fs.ts";

/** The data of a profile is missing; nothing was written. */
export class MissingDataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MissingDataError";
  }
}

/**
 * Lists every input path of a config that does not exist.
 *
 * @returns `[key, path]` pairs; empty when everything is present.
 */
export async function findMissingInputs(
  config: Config,
): Promise<[string, string][]> {
  const missing: [string, string][] = [];
  if (config.dataset.synthetic === null) {
    for (const [i, root] of config.dataset.roots.entries()) {
      for (const path of rootInputPaths(root)) {
        if (!(await exists(path))) {
          missing.push([`dataset.roots[${i}].path`, path]);
        }
      }
    }
  }
  for (const [i, set] of config.eval.sets.entries()) {
    if (set.root !== null) {
      if (!(await exists(set.root))) {
        missing.push([`eval.sets[${i}].root`, set.root]);
      }
      const pairs = set.pairs ?? `${set.root}/pairs.txt`;
      if (!(await exists(pairs))) {
        missing.push([`eval.sets[${i}].pairs`, pairs]);
      }
    }
    if (set.bin !== null && !(await exists(set.bin))) {
      missing.push([`eval.sets[${i}].bin`, set.bin]);
    }
    if (set.make_pairs !== null && !(await exists(set.make_pairs.root))) {
      missing.push([`eval.sets[${i}].make_pairs.root`, set.make_pairs.root]);
    }
  }
  return missing;
}

/**
 * Throws when any input of the profile is missing.
 *
 * @throws {MissingDataError} Listing each missing path with its config key.
 */
export async function checkInputs(
  config: Config,
  profile: string,
): Promise<void> {
  const missing = await findMissingInputs(config);
  if (missing.length === 0) {
    // MTCNN needs the pretrained weights: stop before any work without them.
    const detects = config.dataset.detect === "mtcnn" ||
      config.eval.sets.some((set) => set.align === "mtcnn");
    if (detects) await requireAssets(config.assets.dir);
    return;
  }
  const lines = missing.map(([key, path]) => `  ${key}: "${path}" not found`);
  throw new MissingDataError(
    `Cannot run profile "${profile}": its data is missing:\n${
      lines.join("\n")
    }\n` +
      "Put the data at these paths, or point the keys elsewhere with --set key=path. " +
      "`deno task reproduce --profile smoke` runs the whole pipeline on generated data.",
  );
}
