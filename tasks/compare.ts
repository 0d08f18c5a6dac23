/**
 * `deno task compare`: run folders side by side, with the paper's values as
 * the first row and, with --baseline, the differences to one run.
 *
 * @module
 */

import { resolve } from "node:path";
import { parseFlags, runTask, UsageError } from "./_cli.ts";
import {
  buildComparison,
  listRunDirs,
  readRun,
} from "../src/results/compare.ts";
import { renderComparisonMarkdown } from "../src/results/compare_markdown.ts";

const USAGE =
  `Usage: deno task compare [RUN_DIR...] [--format markdown|json] [--baseline RUN_DIR]

  RUN_DIR              run folders to compare (default: every run under --results-dir)
  --format FORMAT      markdown (default) or json
  --baseline RUN_DIR   also print each run's differences to this run
  --results-dir DIR    where to look when no RUN_DIR is given (default: results)`;

await runTask(async () => {
  const { values, positionals } = parseFlags(Deno.args, {
    format: { type: "string" },
    baseline: { type: "string" },
    "results-dir": { type: "string" },
    help: { type: "boolean", short: "h" },
  }, true);
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const format = values.format ?? "markdown";
  if (format !== "markdown" && format !== "json") {
    throw new UsageError(
      `Invalid --format "${format}": use markdown or json`,
    );
  }
  const dirs = positionals.length > 0
    ? positionals
    : await listRunDirs(values["results-dir"] ?? "results");
  const runs = await Promise.all(dirs.map(readRun));
  const baseline = values.baseline === undefined
    ? undefined
    : runs.find((run) => run.dir === resolve(values.baseline!)) ??
      await readRun(values.baseline);
  const comparison = buildComparison(runs, baseline);
  console.log(
    format === "json"
      ? JSON.stringify(comparison, null, 2)
      : renderComparisonMarkdown(comparison).trimEnd(),
  );
}, USAGE);
