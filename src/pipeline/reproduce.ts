/**
 * The whole pipeline into one run folder: dataset, training, evaluation and
 * results, with provenance written before any work and metrics after each
 * stage.
 *
 * @module
 */

import { join } from "node:path";
import type { ResolvedConfig } from "../config/load.ts";
import { sha256File } from "../hash.ts";
import { countModel, mobileFaceNetUnits } from "../model/architecture.ts";
import type { Reporter } from "../report.ts";
import { selectBackend } from "../runtime/backend.ts";
import { loadTrainedModel } from "../train/checkpoint.ts";
import { type RunContext, saveMetrics, startRun } from "./context.ts";
import { runDatasetStage } from "./dataset_stage.ts";
import { evaluateSet, prepareEvalSets } from "./eval_stage.ts";
import { checkInputs } from "./preflight.ts";
import { runTrainStage } from "./train_stage.ts";

/** Options of {@linkcode reproduce}. */
export interface ReproduceOptions {
  resolved: ResolvedConfig;
  resultsDir: string;
  runId?: string;
  reporter: Reporter;
  command: string[];
}

/** Returns a path relative to the run folder when it lies inside it. */
function relativeToRun(context: RunContext, path: string): string {
  return path.startsWith(context.runDir + "/")
    ? path.slice(context.runDir.length + 1)
    : path;
}

/**
 * Runs every stage and returns the run context with its final metrics.
 *
 * @throws {MissingDataError} Before any work, when the profile's data is missing.
 * @throws {RunExistsError} When the run folder exists.
 */
export async function reproduce(
  options: ReproduceOptions,
): Promise<RunContext> {
  const { resolved, reporter } = options;
  const { config } = resolved;
  await checkInputs(config, resolved.profile);
  const context = await startRun(options);
  const { provenance, metrics } = context;

  // stage 1: dataset
  await provenance.start("dataset");
  const dataset = await runDatasetStage(config, reporter);
  const manifestPath = join(dataset.dir, "manifest.jsonl");
  provenance.provenance.dataset_manifest_sha256 =
    dataset.summary.manifest_sha256;
  await provenance.end("dataset", {
    skipped: dataset.skipped,
    artifacts: {
      manifest: { path: manifestPath, sha256: await sha256File(manifestPath) },
    },
  });
  const { by_rule } = dataset.summary;
  metrics.dataset = {
    identities_in: dataset.summary.identities_in,
    images_in: dataset.summary.images_in,
    identities_kept: dataset.summary.identities_kept,
    images_out: dataset.summary.images_out,
    by_rule: {
      sampled_350: by_rule.sampled_350,
      kept: by_rule.kept,
      kept_opened: by_rule.kept_opened,
      kept_opened_noised: by_rule.kept_opened_noised,
      dropped: by_rule.dropped,
    },
    manifest_sha256: dataset.summary.manifest_sha256,
  };
  const counts = countModel(mobileFaceNetUnits(config.model));
  metrics.model = {
    name: config.model.name,
    parameters: counts.parameters,
    multiply_adds: counts.multiplyAdds,
    embedding_size: config.model.embedding_size,
  };
  await saveMetrics(context);
  reporter.info(
    `dataset: ${dataset.summary.images_out} images of ${dataset.summary.identities_kept} identities ` +
      `(from ${dataset.summary.images_in} images of ${dataset.summary.identities_in})`,
  );

  // stage 2: train
  const trainBackend = await selectBackend(config.runtime, "train");
  reporter.info(`train backend: ${trainBackend.name} (${trainBackend.reason})`);
  await provenance.start("train");
  const summary = await runTrainStage(context, dataset.dir, trainBackend);
  await provenance.end("train", {
    backend: { ...trainBackend },
    artifacts: {
      model: {
        path: relativeToRun(context, summary.model_path),
        sha256: await sha256File(summary.model_path),
      },
    },
  });
  metrics.train = {
    steps: summary.steps,
    effective_batch: summary.effective_batch,
    micro_batch: summary.micro_batch,
    accumulation_steps: summary.accumulation_steps,
    arcface_shards: summary.arcface_shards,
    final_loss: summary.final_loss,
    images_per_second: summary.images_per_second,
    peak_memory_bytes: { measured: summary.peak_memory_bytes.measured },
  };
  await saveMetrics(context);

  // stage 3: evaluate
  const evalBackend = await selectBackend(config.runtime, "infer");
  reporter.info(
    `evaluation backend: ${evalBackend.name} (${evalBackend.reason})`,
  );
  await provenance.start("evaluate");
  const sources = await prepareEvalSets(
    config,
    dataset.synthetic,
    context.artifactsDir,
    reporter,
  );
  const model = await loadTrainedModel(config.model, summary.model_path);
  try {
    for (const source of sources) {
      const result = await evaluateSet(source, {
        config,
        model,
        runDir: context.runDir,
        reporter,
      });
      if (result.model) {
        (metrics.eval ??= {})[source.name] = result.model.metrics;
      }
      if (result.pixels) {
        (metrics.reference ??= {})[source.name] = {
          model: "pixels",
          ...result.pixels.metrics,
        };
      }
      await saveMetrics(context);
    }
  } finally {
    model.dispose();
  }
  await provenance.end("evaluate", { backend: { ...evalBackend } });
  return context;
}
