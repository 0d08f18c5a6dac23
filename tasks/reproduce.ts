/**
 * `deno task reproduce`: every stage of the pipeline into one run folder.
 *
 * @module
 */

import {
  CONFIG_FLAGS,
  flagOverrides,
  parseFlags,
  resolveConfig,
  runTask,
  terminalReporter,
  UsageError,
  WORKERS_FLAG,
} from "./_cli.ts";
import type { ResolvedConfig } from "../src/config/load.ts";
import { reproduce } from "../src/pipeline/reproduce.ts";
import { loadRunConfig } from "../src/pipeline/reproduce_from.ts";
import { buildComparison, readRun } from "../src/results/compare.ts";
import { renderComparisonMarkdown } from "../src/results/compare_markdown.ts";
import { pixelBaselines, referenceModels } from "../src/results/metrics.ts";

const USAGE =
  `Usage: deno task reproduce [--profile NAME | --config FILE] [--set key=value]...
                           [--results-dir DIR] [--run-id ID] [--backend NAME]
                           [--workers N]
       deno task reproduce --from RUN_DIR [--backend NAME] [--workers N]
                           [--results-dir DIR] [--run-id ID]

  --profile NAME     configs/NAME.yaml (default: paper; smoke runs on generated data)
  --config FILE      a config file instead of a profile
  --set key=value    override one config key, such as train.log_every=5 (repeatable)
  --results-dir DIR  parent of the run folder (default: results)
  --run-id ID        run folder name (default: <UTC time>-<profile>-<config hash>)
  --backend NAME     auto, webgpu, wasm, cpu or tensorflow (sets runtime.backend)
  --workers N        dataset build workers, 0 for one per core (sets dataset.workers)
  --from RUN_DIR     rerun with that run's config.yaml and seeds into a new run
                     folder, then compare the two runs`;

/** Formats a mean accuracy and its fold deviation as percentages. */
function formatAccuracy(
  metrics: { accuracy_mean: number; accuracy_std?: number },
): string {
  const mean = (100 * metrics.accuracy_mean).toFixed(2);
  return metrics.accuracy_std === undefined
    ? `${mean} %`
    : `${mean} ± ${(100 * metrics.accuracy_std).toFixed(2)} %`;
}

await runTask(async () => {
  const { values } = parseFlags(Deno.args, {
    ...CONFIG_FLAGS,
    ...WORKERS_FLAG,
    "results-dir": { type: "string" },
    "run-id": { type: "string" },
    from: { type: "string" },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  let resolved: ResolvedConfig;
  if (values.from === undefined) {
    resolved = await resolveConfig(values);
  } else {
    if (
      values.profile !== undefined || values.config !== undefined ||
      values.set !== undefined
    ) {
      throw new UsageError(
        "--from reruns the saved config.yaml of a run: it cannot be combined with --profile, --config or --set",
      );
    }
    const overrides = flagOverrides(values);
    resolved = (await loadRunConfig(values.from, overrides)).resolved;
  }
  const context = await reproduce({
    resolved,
    resultsDir: values["results-dir"] ?? "results",
    runId: values["run-id"],
    reporter: terminalReporter(),
    command: ["reproduce", ...Deno.args],
  });
  const lines = [`run folder: ${context.runDir}`];
  const pixels = pixelBaselines(context.metrics);
  const references = referenceModels(context.metrics);
  for (const [name, metrics] of Object.entries(context.metrics.eval ?? {})) {
    const parts = [`${name}: trained ${formatAccuracy(metrics)}`];
    for (const entry of [pixels[name], references[name]]) {
      if (entry) parts.push(`${entry.model} ${formatAccuracy(entry)}`);
    }
    lines.push(parts.join(", "));
  }
  if (values.from !== undefined) {
    const source = await readRun(values.from);
    const comparison = buildComparison(
      [source, await readRun(context.runDir)],
      source,
    );
    lines.push("", renderComparisonMarkdown(comparison).trimEnd());
  }
  console.log(lines.join("\n"));
}, USAGE);
