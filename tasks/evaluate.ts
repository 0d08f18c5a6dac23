/**
 * `deno task evaluate`: stage 3 alone. Runs the verification protocol on
 * each configured set with a trained model file, into a new run folder, or
 * recomputes the metrics of a stored embeddings file without a model.
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
import {
  evaluateEmbeddingsDump,
  readEmbeddingsDump,
} from "../src/eval/embeddings_dump.ts";
import { formatFoldTable, formatSummary } from "../src/eval/verify.ts";
import type { Config } from "../src/config/types.ts";
import { startRun } from "../src/pipeline/context.ts";
import { prepareSyntheticSet } from "../src/pipeline/dataset_stage.ts";
import { checkInputs } from "../src/pipeline/preflight.ts";
import { evaluateStep, PRETRAINED_MODEL } from "../src/pipeline/reproduce.ts";
import { requireAssets } from "../src/pretrained/assets.ts";
import type { Reporter } from "../src/report.ts";

const USAGE =
  `Usage: deno task evaluate [--profile NAME | --config FILE] [--set key=value]...
                          [--model PATH [--dump-embeddings FILE]]
                          [--results-dir DIR] [--run-id ID] [--backend NAME]
       deno task evaluate --embeddings FILE [--profile NAME | --config FILE] [--set key=value]...

  --model PATH             model.safetensors written by train or reproduce;
                           without it only the raw-pixel reference is evaluated
  --model pretrained       the pretrained MobileFaceNet of \`deno task assets\`
                           (112x112 input, 192-d embedding)
  --dump-embeddings FILE   also write the model's pair embeddings to FILE
                           (safetensors: embeddings1 and embeddings2 float32
                           [pairs, dim], issame uint8 [pairs]); with several
                           sets, one file each, named with the set before the
                           extension (emb.safetensors -> emb.lfw.safetensors).
                           FILE must lie under results/ or cache/. The run
                           folder keeps its own copy under artifacts/embeddings/
  --embeddings FILE        recompute the metrics of such a file without a model,
                           with the protocol settings of the config (eval.folds,
                           eval.threshold_max, eval.threshold_step,
                           eval.far_target); prints the fold table on stderr and
                           the metrics as JSON on stdout, and writes no run folder`;

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

/**
 * Checks that the task may access `path`, so that a path outside the pinned
 * permissions stops the task before any work.
 */
async function checkPermission(
  flag: string,
  path: string,
  access: "read" | "write",
): Promise<void> {
  const { state } = await Deno.permissions.query({ name: access, path });
  if (state !== "granted") {
    throw new UsageError(
      access === "write"
        ? `Invalid ${flag} "${path}": the evaluate task may write only under results/ and cache/: pass a path there, such as results/embeddings.safetensors`
        : `Invalid ${flag} "${path}": the evaluate task may read only the repository and ../shared: copy the file under the repository`,
    );
  }
}

/** Recomputes and prints the metrics of an embeddings file. */
async function evaluateEmbeddingsFile(
  path: string,
  config: Config,
  reporter: Reporter,
): Promise<void> {
  const dump = await readEmbeddingsDump(path);
  const { metrics } = evaluateEmbeddingsDump(dump, {
    folds: config.eval.folds,
    thresholdMax: config.eval.threshold_max,
    thresholdStep: config.eval.threshold_step,
    farTarget: config.eval.far_target,
  });
  reporter.info(
    `${path}: ${dump.pairs} pairs of ${dump.dim}-d embeddings\n${
      formatFoldTable(metrics)
    }\n${formatSummary(metrics)}`,
  );
  console.log(JSON.stringify(metrics, null, 2));
}

await runTask(async () => {
  const { values } = parseFlags(Deno.args, {
    ...CONFIG_FLAGS,
    model: { type: "string" },
    "dump-embeddings": { type: "string" },
    embeddings: { type: "string" },
    "results-dir": { type: "string" },
    "run-id": { type: "string" },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (values.embeddings !== undefined) {
    for (
      const flag of [
        "model",
        "dump-embeddings",
        "results-dir",
        "run-id",
      ] as const
    ) {
      if (values[flag] !== undefined) {
        throw new UsageError(
          `--embeddings recomputes metrics from a file and takes no --${flag}`,
        );
      }
    }
    await checkPermission("--embeddings", values.embeddings, "read");
    const resolved = await resolveConfig(values);
    await evaluateEmbeddingsFile(
      values.embeddings,
      resolved.config,
      terminalReporter(),
    );
    return;
  }
  if (values["dump-embeddings"] !== undefined) {
    if (values.model === undefined) {
      throw new UsageError(
        "--dump-embeddings writes the embeddings of a model: pass --model PATH",
      );
    }
    await checkPermission(
      "--dump-embeddings",
      values["dump-embeddings"],
      "write",
    );
  }
  const resolved = await resolveConfig(values);
  await checkInputs(resolved.config, resolved.profile);
  if (values.model === PRETRAINED_MODEL) {
    // Stops before the run folder is made when the weights are missing.
    await requireAssets(resolved.config.assets.dir);
  } else if (values.model !== undefined) {
    await checkModelFile(values.model);
  }
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
    await evaluateStep(context, values.model ?? null, synthetic, {
      dumpEmbeddings: values["dump-embeddings"],
    });
  } catch (error) {
    await context.provenance.fail(error);
    throw error;
  }
  console.log(`run folder: ${context.runDir}`);
}, USAGE);
