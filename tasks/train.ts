/**
 * `deno task train`: build (or reuse) the training set and train, into a new
 * run folder, or continue a run's newest checkpoint with --resume.
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
  UsageError,
} from "./_cli.ts";
import { reopenRun, startRun } from "../src/pipeline/context.ts";
import { runDatasetStage } from "../src/pipeline/dataset_stage.ts";
import { checkInputs } from "../src/pipeline/preflight.ts";
import { InputError } from "../src/errors.ts";
import { checkRunId } from "../src/results/run_folder.ts";
import { checkpointStep, latestCheckpoint } from "../src/train/checkpoint.ts";
import { datasetStep, trainStep } from "../src/pipeline/reproduce.ts";

const USAGE =
  `Usage: deno task train [--profile NAME | --config FILE] [--set key=value]...
                       [--results-dir DIR] [--run-id ID] [--backend NAME]
       deno task train --resume --run-id ID [--results-dir DIR]

  --resume           continue the newest checkpoint of results/ID with its saved config.yaml`;

await runTask(async () => {
  const { values } = parseFlags(Deno.args, {
    ...CONFIG_FLAGS,
    "results-dir": { type: "string" },
    "run-id": { type: "string" },
    resume: { type: "boolean" },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const reporter = terminalReporter();
  const resultsDir = values["results-dir"] ?? "results";
  if (values.resume) {
    if (values["run-id"] === undefined) {
      throw new UsageError("--resume needs --run-id of the run to continue");
    }
    if (values.profile || values.config || values.set) {
      throw new UsageError(
        "--resume uses the run's saved config.yaml: drop --profile, --config and --set",
      );
    }
    checkRunId(values["run-id"]);
    const context = await reopenRun(
      join(resultsDir, values["run-id"]),
      reporter,
    );
    // Check the checkpoint before any work or any change to the run folder.
    const checkpoints = join(context.artifactsDir, "checkpoints");
    const latest = await latestCheckpoint(checkpoints);
    if (latest === null) {
      throw new InputError(
        `Cannot resume run "${context.runDir}": no checkpoint in "${checkpoints}": start a new run instead`,
      );
    }
    const step = checkpointStep(latest);
    if (step >= context.resolved.config.train.steps) {
      throw new InputError(
        `Cannot resume run "${context.runDir}": it already finished its ${step} steps`,
      );
    }
    let summary;
    try {
      const dataset = await runDatasetStage(context.resolved.config, reporter);
      summary = await trainStep(context, dataset.dir, { resume: true });
    } catch (error) {
      await context.provenance.fail(error);
      throw error;
    }
    console.log(`run folder: ${context.runDir}\nmodel: ${summary.model_path}`);
    return;
  }
  const resolved = await resolveConfig(values);
  await checkInputs(resolved.config, resolved.profile);
  const context = await startRun({
    resolved,
    resultsDir,
    runId: values["run-id"],
    reporter,
    command: ["train", ...Deno.args],
  });
  let summary;
  try {
    const dataset = await datasetStep(context);
    summary = await trainStep(context, dataset.dir);
  } catch (error) {
    await context.provenance.fail(error);
    throw error;
  }
  console.log(`run folder: ${context.runDir}\nmodel: ${summary.model_path}`);
}, USAGE);
