/**
 * Provenance of a run, recorded before any work (as DINO does): the code
 * version, the lock file, the configuration and seeds, the runtime and the
 * machine, then the start and end of each stage and the hashes of what
 * each stage produced.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import os from "node:os";
import { sha256File } from "../hash.ts";
import { writeJsonAtomic } from "../fs.ts";
import { assertSchema } from "./schema.ts";

/** Timing, backend and outputs of one stage. */
export interface StageRecord {
  started: string;
  /** The error that stopped the stage, when it failed. */
  error?: string;
  /** Times the stage was started again after an interruption. */
  restarted?: string[];
  ended?: string;
  seconds?: number;
  skipped?: boolean;
  backend?: Record<string, unknown>;
  /**
   * Files the stage wrote, by role: path and SHA-256. A relative path is
   * relative to the run folder when the file lies inside it, and otherwise
   * to the repository root (the dataset manifest under `cache/`).
   */
  artifacts?: Record<string, { path: string; sha256: string }>;
}

/** The provenance.json of a run folder. */
export interface Provenance {
  schema_version: 1;
  run_id: string;
  profile: string;
  /** `dirty` counts changes to tracked files only, not untracked ones. */
  git: { commit: string | null; dirty: boolean | null };
  deno_lock_sha256: string | null;
  config_sha256: string;
  dataset_manifest_sha256?: string;
  /** SHA-256 of metrics.json as the run last wrote it. */
  metrics_sha256?: string;
  seeds: Record<string, number>;
  runtime: { deno: string; v8: string; typescript: string; tfjs: string };
  machine: {
    platform: string;
    arch: string;
    cpu: string;
    cores: number;
    memory_bytes: number;
  };
  command: string[];
  stages: Record<string, StageRecord>;
}

async function git(args: string[]): Promise<string | null> {
  try {
    const output = await new Deno.Command("git", {
      args,
      stdout: "piped",
      stderr: "null",
    }).output();
    return output.success
      ? new TextDecoder().decode(output.stdout).trim()
      : null;
  } catch {
    // git is not installed, or the run lacks permission to start it.
    return null;
  }
}

/**
 * Returns the commit checked out and whether tracked files differ from it,
 * each null when git cannot tell (not installed, no permission, no
 * repository).
 */
export async function gitState(): Promise<
  { commit: string | null; dirty: boolean | null }
> {
  const commit = await git(["rev-parse", "HEAD"]);
  const status = commit === null
    ? null
    : await git(["status", "--porcelain", "--untracked-files=no"]);
  return { commit, dirty: status === null ? null : status.length > 0 };
}

/** Collects the provenance known before any stage runs. */
export async function collectProvenance(options: {
  runId: string;
  profile: string;
  configSha256: string;
  seed: number;
  command: string[];
  lockPath?: string;
}): Promise<Provenance> {
  const state = await gitState();
  let lockSha: string | null = null;
  try {
    lockSha = await sha256File(options.lockPath ?? "deno.lock");
  } catch {
    lockSha = null;
  }
  const cpus = os.cpus();
  return {
    schema_version: 1,
    run_id: options.runId,
    profile: options.profile,
    git: state,
    deno_lock_sha256: lockSha,
    config_sha256: options.configSha256,
    seeds: { run: options.seed },
    runtime: {
      deno: Deno.version.deno,
      v8: Deno.version.v8,
      typescript: Deno.version.typescript,
      tfjs: tf.version.tfjs,
    },
    machine: {
      platform: os.platform(),
      arch: os.arch(),
      cpu: cpus[0]?.model ?? "unknown",
      cores: cpus.length,
      memory_bytes: os.totalmem(),
    },
    command: options.command,
    stages: {},
  };
}

/** Keeps provenance.json of a run folder current, rewriting it atomically. */
export class ProvenanceWriter {
  readonly path: string;
  readonly provenance: Provenance;

  constructor(path: string, provenance: Provenance) {
    this.path = path;
    this.provenance = provenance;
  }

  /**
   * Writes the current provenance after checking it against
   * `schemas/provenance.schema.json`.
   *
   * @throws {TypeError} When the document does not match the schema.
   */
  async save(): Promise<void> {
    assertSchema("provenance", this.provenance, this.path);
    await writeJsonAtomic(this.path, this.provenance);
  }

  /**
   * Marks a stage started and saves. A stage started again (a resumed
   * training) keeps its first start time and lists each restart.
   */
  async start(stage: string): Promise<void> {
    const now = new Date().toISOString();
    const existing = this.provenance.stages[stage];
    if (existing) {
      existing.restarted = [...(existing.restarted ?? []), now];
      delete existing.ended;
    } else {
      this.provenance.stages[stage] = { started: now };
    }
    await this.save();
  }

  /**
   * Records the error that stopped the run on every stage that had started
   * and not ended, and saves, so the run folder records how it ended.
   */
  async fail(error: unknown): Promise<void> {
    const message = error instanceof Error ? error.message : String(error);
    for (const record of Object.values(this.provenance.stages)) {
      if (record.ended === undefined) {
        record.error = message;
        record.ended = new Date().toISOString();
      }
    }
    await this.save();
  }

  /** Seconds of each ended stage, in the order the stages started. */
  stageSeconds(): { stage: string; seconds: number }[] {
    return Object.entries(this.provenance.stages)
      .filter(([, record]) => record.seconds !== undefined)
      .map(([stage, record]) => ({ stage, seconds: record.seconds! }));
  }

  /** Marks a stage ended, merges what it reports, and saves. */
  async end(
    stage: string,
    details: Omit<StageRecord, "started" | "ended" | "seconds"> = {},
  ): Promise<void> {
    const record = this.provenance.stages[stage];
    const ended = new Date();
    Object.assign(record, details, {
      ended: ended.toISOString(),
      seconds: (ended.getTime() -
        Date.parse(record.restarted?.at(-1) ?? record.started)) / 1000,
    });
    await this.save();
  }
}
