/**
 * Stage 2 of a run: train on the built set, log each record to train.jsonl
 * and draw loss.svg.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import { configToYaml } from "../config/load.ts";
import { openTrainingSet } from "../data/loader.ts";
import { writeTextAtomic } from "../fs.ts";
import { createReporter } from "../report.ts";
import { type LossPoint, lossSvg } from "../results/loss_svg.ts";
import type { BackendInfo } from "../runtime/backend.ts";
import {
  type StepRecord,
  train,
  TrainingInterruptedError,
  type TrainSummary,
} from "../train/train.ts";
import { InputError } from "../errors.ts";
import type { RunContext } from "./context.ts";

/** Writes every byte, looping because one write may take only part. */
function writeAll(file: Deno.FsFile, bytes: Uint8Array): void {
  let written = 0;
  while (written < bytes.length) {
    written += file.writeSync(bytes.subarray(written));
  }
}

/**
 * Reads the records of an existing train.jsonl (for resume and plots).
 *
 * A record is complete once its newline is written, so a last line without
 * one, cut off by a kill or a full disk, is dropped.
 *
 * @throws {SyntaxError} When a complete line is not JSON, naming the line.
 */
export async function readTrainLog(path: string): Promise<StepRecord[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  const complete = text.slice(0, text.lastIndexOf("\n") + 1);
  return complete.split("\n").filter((line) => line.trim() !== "").map(
    (line, i) => {
      try {
        return JSON.parse(line) as StepRecord;
      } catch {
        throw new SyntaxError(
          `Cannot parse "${path}" line ${i + 1}: not JSON: ${
            line.slice(0, 80)
          }`,
        );
      }
    },
  );
}

/** Returns the command line that continues a run's training. */
function resumeCommand(context: RunContext): string {
  const resultsDir = dirname(context.runDir);
  const where = resultsDir === "results" ? "" : ` --results-dir ${resultsDir}`;
  return `deno task train --resume --run-id ${
    basename(context.runDir)
  }${where}`;
}

/**
 * Trains on the dataset in `datasetDir` and records the results in the run.
 *
 * Each record is appended to train.jsonl as one whole line as soon as it is
 * logged, so an interrupted run keeps every step it logged. On resume, once
 * the checkpoint has loaded, records past its step are dropped, because the
 * resumed run logs those steps again.
 *
 * SIGINT (Ctrl-C) during training lets the current optimiser step finish,
 * writes its checkpoint and throws {@linkcode TrainingInterruptedError},
 * whose message gives the command that continues the run.
 */
export async function runTrainStage(
  context: RunContext,
  datasetDir: string,
  backend: BackendInfo,
  options: { resume?: boolean } = {},
): Promise<TrainSummary> {
  const { config } = context.resolved;
  const logPath = join(context.runDir, "train.jsonl");
  const opened = await openTrainingSet(
    datasetDir,
    config.model.input_size,
    config.train.loader,
  );
  const { data } = opened;
  context.reporter.info(
    `training on ${data.count} images of ${data.numClasses} identities (${backend.name} backend${
      opened.streamed ? ", streamed from the packed shards" : ""
    })`,
  );

  // Opened at the first record, after a resume has rewritten the file.
  let file: Deno.FsFile | null = null;
  const encoder = new TextEncoder();
  const reporter = createReporter({
    writer: { writeLine: (line) => context.reporter.info(line) },
    onRecord: (record) => {
      try {
        file ??= Deno.openSync(logPath, { create: true, append: true });
        writeAll(file, encoder.encode(JSON.stringify(record) + "\n"));
      } catch (error) {
        throw new InputError(
          `Cannot append to "${logPath}": ${(error as Error).message}`,
          { cause: error },
        );
      }
      context.reporter.record(record);
    },
  });
  const interrupt = new AbortController();
  const onInterrupt = () => interrupt.abort();
  Deno.addSignalListener("SIGINT", onInterrupt);
  let summary: TrainSummary;
  try {
    summary = await train({
      config,
      configSha256: context.resolved.sha256,
      configYaml: configToYaml(config),
      data,
      artifactsDir: context.artifactsDir,
      reporter,
      resume: options.resume,
      // Drop the records past the checkpoint: the resumed run logs those
      // steps again.
      onResume: async (step) => {
        const kept = (await readTrainLog(logPath)).filter((r) =>
          r.step <= step
        );
        await writeTextAtomic(
          logPath,
          kept.map((r) => JSON.stringify(r) + "\n").join(""),
        );
      },
      signal: interrupt.signal,
    });
  } catch (error) {
    if (error instanceof TrainingInterruptedError) {
      throw new TrainingInterruptedError(
        error.step,
        error.totalSteps,
        error.checkpoint,
        `continue with: ${resumeCommand(context)}`,
      );
    }
    throw error;
  } finally {
    Deno.removeSignalListener("SIGINT", onInterrupt);
    (file as Deno.FsFile | null)?.close();
    opened.close();
  }

  const records = await readTrainLog(logPath);
  const points: LossPoint[] = records.map((r) => ({
    step: r.step,
    loss: r.loss,
    accuracy: r.accuracy,
  }));
  await writeTextAtomic(
    join(context.runDir, "loss.svg"),
    lossSvg(`Training loss, ${context.runId}`, points),
  );
  return summary;
}
