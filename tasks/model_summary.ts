/**
 * `deno task model:summary`: the layer table, parameter count and
 * multiply-adds of the configured MobileFaceNet.
 *
 * @module
 */

import { CONFIG_FLAGS, parseFlags, resolveConfig, runTask } from "./_cli.ts";
import { mobileFaceNetUnits } from "../src/model/architecture.ts";
import { formatModelSummary } from "../src/model/summary.ts";

const USAGE =
  `Usage: deno task model:summary [--profile NAME | --config FILE] [--set key=value]...`;

await runTask(async () => {
  const { values } = parseFlags(Deno.args, CONFIG_FLAGS);
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const { config } = await resolveConfig(values);
  const { input_size, width_multiplier, embedding_size } = config.model;
  console.log(
    `MobileFaceNet ${input_size}x${input_size}, width ${width_multiplier}, embedding ${embedding_size}\n`,
  );
  console.log(formatModelSummary(mobileFaceNetUnits(config.model)));
}, USAGE);
