/**
 * `deno task dataset`: stage 1 alone. Builds the training set of a config
 * into the dataset cache (or finds it there) and prints where it is.
 *
 * @module
 */

import { join } from "node:path";
import {
  CONFIG_FLAGS,
  parseFlags,
  resolveConfig,
  runTask,
  terminalReporter,
} from "./_cli.ts";
import { runDatasetStage } from "../src/pipeline/dataset_stage.ts";
import { checkInputs } from "../src/pipeline/preflight.ts";

const USAGE =
  `Usage: deno task dataset [--profile NAME | --config FILE] [--set key=value]...

Builds the training set into dataset.cache_dir and prints the folder, which
holds manifest.jsonl, labels.json, summary.json and images/.`;

await runTask(async () => {
  const { values } = parseFlags(Deno.args, CONFIG_FLAGS);
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const resolved = await resolveConfig(values);
  await checkInputs(resolved.config, resolved.profile);
  const reporter = terminalReporter();
  const result = await runDatasetStage(resolved.config, reporter);
  const { summary } = result;
  const rows = Object.entries(summary.by_rule).map(([rule, count]) =>
    `  ${rule.padEnd(20)} ${count} identities`
  );
  reporter.info(
    [
      `identities in ${summary.identities_in}, kept ${summary.identities_kept}`,
      `images in ${summary.images_in}, out ${summary.images_out}, unreadable ${summary.unreadable.length}`,
      ...rows,
    ].join("\n"),
  );
  for (const { path, error } of summary.unreadable) {
    reporter.info(`  skipped ${path}: ${error}`);
  }
  console.log(join(result.dir));
}, USAGE);
