/**
 * The state every stage of a run shares: the run folder, the resolved
 * configuration, the reporter, provenance and the metrics gathered so far.
 *
 * @module
 */

import { InputError } from "../errors.ts";
import { join } from "node:path";
import type { ResolvedConfig } from "../config/load.ts";
import { canonicalJson, configToYaml } from "../config/load.ts";
import { validateConfig } from "../config/validate.ts";
import { parse } from "yaml";
import { sha256Hex } from "../hash.ts";
import { exists, writeTextAtomic } from "../fs.ts";
import type { Reporter } from "../report.ts";
import { writeMetrics } from "../results/metrics.ts";
import type { Metrics } from "../results/metrics.ts";
import {
  collectProvenance,
  type Provenance,
  ProvenanceWriter,
} from "../results/provenance.ts";
import {
  createRunFolder,
  defaultRunId,
  RunExistsError,
} from "../results/run_folder.ts";

/** A run in progress. */
export interface RunContext {
  runId: string;
  runDir: string;
  artifactsDir: string;
  resolved: ResolvedConfig;
  reporter: Reporter;
  provenance: ProvenanceWriter;
  metrics: Metrics;
}

/** Options of {@linkcode startRun}. */
export interface StartRunOptions {
  resolved: ResolvedConfig;
  resultsDir: string;
  /** Defaults to `<timestamp>-<profile>-<config hash>`. */
  runId?: string;
  reporter: Reporter;
  /** The command line, recorded in provenance.json. */
  command: string[];
  now?: Date;
}

/**
 * Creates the run folder and writes config.yaml and provenance.json before
 * any work.
 *
 * @throws {RunExistsError} When the run folder exists.
 */
export async function startRun(options: StartRunOptions): Promise<RunContext> {
  const { resolved, reporter } = options;
  const runId = options.runId ??
    defaultRunId(options.now ?? new Date(), resolved.profile, resolved.sha256);
  let runDir: string;
  try {
    runDir = await createRunFolder(options.resultsDir, runId);
  } catch (error) {
    if (error instanceof RunExistsError && options.runId === undefined) {
      throw new InputError(
        `Cannot create run folder for "${runId}": a run of this profile and config started in the same second: ` +
          "wait a second, or pass --run-id",
      );
    }
    throw error;
  }
  await writeTextAtomic(
    join(runDir, "config.yaml"),
    configToYaml(resolved.config),
  );
  const provenance = new ProvenanceWriter(
    join(runDir, "provenance.json"),
    await collectProvenance({
      runId,
      profile: resolved.profile,
      configSha256: resolved.sha256,
      seed: resolved.config.seed,
      command: options.command,
    }),
  );
  await provenance.save();
  reporter.info(`run ${runId} -> ${runDir}`);
  return {
    runId,
    runDir,
    artifactsDir: join(runDir, "artifacts"),
    resolved,
    reporter,
    provenance,
    metrics: { schema_version: 1, run_id: runId, profile: resolved.profile },
  };
}

/**
 * Writes the metrics gathered so far to the run's metrics.json and records
 * its SHA-256 in provenance.json, so that `deno task audit` detects a later
 * edit.
 */
export async function saveMetrics(context: RunContext): Promise<void> {
  context.provenance.provenance.metrics_sha256 = await writeMetrics(
    join(context.runDir, "metrics.json"),
    context.metrics,
  );
  await context.provenance.save();
}

/**
 * Reopens an existing run folder (for `train --resume`): its saved config,
 * provenance and metrics.
 *
 * @throws {Error} When the folder lacks config.yaml or provenance.json.
 */
export async function reopenRun(
  runDir: string,
  reporter: Reporter,
): Promise<RunContext> {
  const configPath = join(runDir, "config.yaml");
  const provenancePath = join(runDir, "provenance.json");
  if (!(await exists(configPath)) || !(await exists(provenancePath))) {
    throw new InputError(
      `Cannot resume run "${runDir}": config.yaml or provenance.json is missing: pass a run folder made by train or reproduce`,
    );
  }
  const config = validateConfig(
    parse(await Deno.readTextFile(configPath)),
    `"${configPath}"`,
  );
  const saved = JSON.parse(
    await Deno.readTextFile(provenancePath),
  ) as Provenance;
  const sha256 = await sha256Hex(canonicalJson(config));
  const metricsPath = join(runDir, "metrics.json");
  const metrics: Metrics = (await exists(metricsPath))
    ? JSON.parse(await Deno.readTextFile(metricsPath))
    : { schema_version: 1, run_id: saved.run_id, profile: saved.profile };
  return {
    runId: saved.run_id,
    runDir,
    artifactsDir: join(runDir, "artifacts"),
    resolved: {
      config,
      profile: saved.profile,
      path: configPath,
      overrides: [],
      sha256,
    },
    reporter,
    provenance: new ProvenanceWriter(provenancePath, saved),
    metrics,
  };
}
