/**
 * `deno task dataset:merge`: joins the part folders of a sharded build
 * (`deno task dataset --shard i/n`) into the dataset a single build writes,
 * and prints its folder.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import { parseFlags, runTask, terminalReporter, UsageError } from "./_cli.ts";
import { mergeDatasetParts } from "../src/data/merge.ts";

const USAGE = `Usage: deno task dataset:merge PART_DIR... [--out DIR]

Checks that the part folders come from the same config, seed and sources and
cover every shard once, then writes manifest.jsonl, labels.json,
summary.json, images/ and shards/ as a single build would, byte for byte.
The source images are not needed.

  --out DIR   the dataset folder to write (default: the parts' name without
              the -part<i>of<n> suffix, beside the first part, where
              deno task reproduce looks for it)`;

/** Strips the `-part<i>of<n>` suffix that dataset --shard gives its folders. */
function defaultOutDir(part: string): string {
  const name = basename(part).replace(/-part\d+of\d+$/, "");
  if (name === basename(part)) {
    throw new UsageError(
      `Cannot name the merged folder: "${part}" does not end in -part<i>of<n>: pass --out DIR`,
    );
  }
  return join(dirname(part), name);
}

await runTask(async () => {
  const { values, positionals } = parseFlags(Deno.args, {
    out: { type: "string" },
    help: { type: "boolean", short: "h" },
  }, true);
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (positionals.length === 0) {
    throw new UsageError("Missing part folders");
  }
  const parts = positionals.map((dir) => dir.replace(/\/+$/, ""));
  const outDir = values.out ?? defaultOutDir(parts[0]);
  await mergeDatasetParts(parts, outDir, terminalReporter());
  console.log(outDir);
}, USAGE);
