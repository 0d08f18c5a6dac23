/**
 * `deno task dataset`: stage 1 alone. Builds the training set of a config
 * into the dataset cache (or finds it there) and prints where it is. With
 * `--shard i/n` it builds one of n disjoint parts, which `deno task
 * dataset:merge` joins.
 *
 * @module
 */

import {
  CONFIG_FLAGS,
  parseFlags,
  resolveConfig,
  runTask,
  terminalReporter,
  UsageError,
  WORKERS_FLAG,
} from "./_cli.ts";
import { parseShard } from "../src/data/build_plan.ts";
import {
  runDatasetPartStage,
  runDatasetStage,
} from "../src/pipeline/dataset_stage.ts";
import { checkInputs } from "../src/pipeline/preflight.ts";

const USAGE =
  `Usage: deno task dataset [--profile NAME | --config FILE] [--set key=value]...
                         [--workers N] [--shard i/n]

Builds the training set into dataset.cache_dir and prints the folder, which
holds manifest.jsonl, labels.json, summary.json, images/ and shards/. A build
that was stopped resumes where it stopped.

  --workers N   build workers, 0 for one per core (sets dataset.workers)
  --shard i/n   build only part i of n (1 <= i <= n), chosen by a hash of
                each identity name; run every part, on any machines, then
                join the part folders with deno task dataset:merge`;

await runTask(async () => {
  const { values } = parseFlags(Deno.args, {
    ...CONFIG_FLAGS,
    ...WORKERS_FLAG,
    shard: { type: "string" },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  let shard;
  try {
    shard = values.shard === undefined ? undefined : parseShard(values.shard);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const resolved = await resolveConfig(values);
  await checkInputs(resolved.config, resolved.profile);
  const reporter = terminalReporter();
  if (shard !== undefined) {
    const { dir } = await runDatasetPartStage(resolved.config, reporter, shard);
    console.log(dir);
    return;
  }
  const { dir, summary } = await runDatasetStage(resolved.config, reporter);
  for (const { path, error } of summary.unreadable) {
    reporter.info(`  skipped ${path}: ${error}`);
  }
  console.log(dir);
}, USAGE);
