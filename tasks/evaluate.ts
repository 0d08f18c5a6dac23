/**
 * `deno task evaluate`: stage 3 alone. Runs the verification protocol on
 * each configured set with a trained model file, into a new run folder.
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
} from "./_cli.ts";
import { startRun } from "../src/pipeline/context.ts";
import { prepareSyntheticSet } from "../src/pipeline/dataset_stage.ts";
import { checkInputs } from "../src/pipeline/preflight.ts";
import { evaluateStep } from "../src/pipeline/reproduce.ts";

const USAGE =
  `Usage: deno task evaluate [--profile NAME | --config FILE] [--set key=value]...
                          [--model PATH] [--results-dir DIR] [--run-id ID] [--backend NAME]

  --model PATH   model.safetensors written by train or reproduce; without it
                 only the raw-pixel reference is evaluated`;

/** Checks that --model names a readable file before the run folder is made. */
async function checkModelFile(path: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new UsageError(
        `Invalid --model "${path}": file not found: pass the model.safetensors of a run`,
      );
    }
    throw error;
  }
  if (!info.isFile) {
    throw new UsageError(
      `Invalid --model "${path}": not a file: pass the model.safetensors of a run`,
    );
  }
}

await runTask(async () => {
  const { values } = parseFlags(Deno.args, {
    ...CONFIG_FLAGS,
    model: { type: "string" },
    "results-dir": { type: "string" },
    "run-id": { type: "string" },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (values.model === "pretrained") {
    throw new UsageError(
      "--model pretrained needs the imported reference weights, which this version does not provide yet",
    );
  }
  const resolved = await resolveConfig(values);
  await checkInputs(resolved.config, resolved.profile);
  if (values.model !== undefined) await checkModelFile(values.model);
  const reporter = terminalReporter();
  const context = await startRun({
    resolved,
    resultsDir: values["results-dir"] ?? "results",
    runId: values["run-id"],
    reporter,
    command: ["evaluate", ...Deno.args],
  });
  // The held-out synthetic identities are generated with the synthetic faces.
  const synthetic = resolved.config.dataset.synthetic === null
    ? null
    : await prepareSyntheticSet(resolved.config, reporter);
  try {
    await evaluateStep(context, values.model ?? null, synthetic);
  } catch (error) {
    await context.provenance.fail(error);
    throw error;
  }
  console.log(`run folder: ${context.runDir}`);
}, USAGE);
