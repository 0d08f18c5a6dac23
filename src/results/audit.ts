/**
 * `deno task audit`: re-verifies a run folder. It validates provenance.json
 * and metrics.json against their JSON Schemas and re-derives the config hash
 * from config.yaml. It re-hashes metrics.json and every artefact that
 * provenance.json names. It re-derives metrics.json values from the config
 * and the fold accuracies, and from dumped embeddings when they are present.
 *
 * An artefact that is not on disk is reported as `absent`, not as a failure:
 * `artifacts/` and `cache/` are git-ignored, so a fresh clone has the run's
 * records but not its checkpoints. A file that is present and hashes
 * differently always fails.
 *
 * @module
 */

import { isAbsolute, join } from "node:path";
import { parse } from "yaml";
import { canonicalJson, validateSavedConfig } from "../config/load.ts";
import type { Config } from "../config/types.ts";
import { exists } from "../fs.ts";
import { sha256File, sha256Hex } from "../hash.ts";
import {
  type AuditCheck,
  configMetricsChecks,
  embeddingsCheck,
  type EmbeddingsEvaluator,
  foldStatisticsChecks,
  protocolOf,
} from "./audit_metrics.ts";
import type { Metrics } from "./metrics.ts";
import type { Provenance } from "./provenance.ts";
import { schemaErrors, type SchemaName } from "./schema.ts";

export type { AuditCheck, CheckStatus } from "./audit_metrics.ts";

/** Options of {@linkcode auditRun}. */
export interface AuditOptions {
  /**
   * Folder that relative artefact paths outside the run folder are read
   * against, such as `cache/datasets/...`. Default: the working directory.
   */
  repositoryRoot?: string;
  /**
   * Reads a dumped embeddings file and recomputes its set's metrics. Without
   * it, embeddings that are present are hashed but not re-evaluated, and
   * their check is reported as skipped.
   */
  evaluateEmbeddings?: EmbeddingsEvaluator;
}

/** Reads and parses a JSON file of the run, or returns the failed check. */
async function readJsonChecked(
  runDir: string,
  name: string,
  schema: SchemaName,
): Promise<{ value?: unknown; check: AuditCheck }> {
  const check = `${name} matches schemas/${schema}.schema.json`;
  const path = join(runDir, name);
  let value: unknown;
  try {
    value = JSON.parse(await Deno.readTextFile(path));
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? `"${path}" not found`
      : `cannot parse "${path}": ${(error as Error).message}`;
    return { check: { check, status: "fail", detail: reason } };
  }
  const errors = schemaErrors(schema, value);
  return {
    value,
    check: errors.length === 0
      ? { check, status: "pass", detail: "valid" }
      : { check, status: "fail", detail: errors.join("; ") },
  };
}

/**
 * Re-reads config.yaml, validates it and compares its hash with the
 * config_sha256 that provenance.json records, read even from a document that
 * fails its schema for another field.
 */
async function configCheck(
  runDir: string,
  provenance: unknown,
): Promise<{ config?: Config; check: AuditCheck }> {
  const check = "config.yaml hash";
  const path = join(runDir, "config.yaml");
  let config: Config;
  let saved: unknown;
  let filled: boolean;
  try {
    saved = parse(await Deno.readTextFile(path));
    ({ config, filled } = await validateSavedConfig(saved, `"${path}"`));
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? `"${path}" not found`
      : (error as Error).message;
    return { check: { check, status: "fail", detail: reason } };
  }
  // The hash is of the saved document, so keys filled in for a run written
  // before they existed do not change it.
  const sha256 = await sha256Hex(canonicalJson(saved));
  const note = filled
    ? " (keys added to the config since the run are read from configs/defaults.yaml)"
    : "";
  const recorded = (provenance as { config_sha256?: unknown } | undefined)
    ?.config_sha256;
  if (typeof recorded !== "string") {
    return {
      config,
      check: {
        check,
        status: "fail",
        detail:
          `provenance.json records no config_sha256; config.yaml hashes to ${sha256}`,
      },
    };
  }
  return {
    config,
    check: sha256 === recorded
      ? { check, status: "pass", detail: `sha256 ${sha256}${note}` }
      : {
        check,
        status: "fail",
        detail:
          `config.yaml hashes to ${sha256}, provenance.json records ${recorded}: the config was edited after the run`,
      },
  };
}

/** Compares a file's SHA-256 with the recorded one. */
async function hashCheck(
  check: string,
  path: string,
  recorded: string,
): Promise<AuditCheck> {
  const actual = await sha256File(path);
  return actual === recorded
    ? { check, status: "pass", detail: `${path}: sha256 ${actual}` }
    : {
      check,
      status: "fail",
      detail: `${path}: sha256 ${actual}, provenance.json records ${recorded}`,
    };
}

/**
 * Finds an artefact: an absolute path as given, a relative one in the run
 * folder, then under the repository root.
 *
 * @returns The path found, or null with the paths looked at.
 */
async function locate(
  path: string,
  runDir: string,
  root: string,
): Promise<{ found: string | null; looked: string[] }> {
  const candidates = isAbsolute(path)
    ? [path]
    : [join(runDir, path), join(root, path)];
  for (const candidate of candidates) {
    if (await exists(candidate)) return { found: candidate, looked: [] };
  }
  return { found: null, looked: candidates };
}

/** Re-hashes every artefact of every stage, in provenance.json order. */
async function artifactChecks(
  runDir: string,
  provenance: Provenance,
  root: string,
): Promise<{ checks: AuditCheck[]; located: Map<string, string> }> {
  const checks: AuditCheck[] = [];
  const located = new Map<string, string>();
  for (const [stage, record] of Object.entries(provenance.stages)) {
    for (const [role, artifact] of Object.entries(record.artifacts ?? {})) {
      const check = `artefact ${stage}.${role}`;
      const { found, looked } = await locate(artifact.path, runDir, root);
      if (found === null) {
        checks.push({
          check,
          status: "absent",
          detail: `"${artifact.path}" not found at ${
            looked.map((p) => `"${p}"`).join(" or ")
          }`,
        });
        continue;
      }
      located.set(`${stage}.${role}`, found);
      checks.push(await hashCheck(check, found, artifact.sha256));
    }
  }
  return { checks, located };
}

/** Checks that fields recorded in both files agree. */
function crossChecks(metrics: Metrics, provenance: Provenance): AuditCheck[] {
  const pairs: [string, unknown, unknown][] = [
    ["run_id", metrics.run_id, provenance.run_id],
    ["profile", metrics.profile, provenance.profile],
  ];
  if (metrics.dataset) {
    pairs.push([
      "dataset manifest_sha256",
      metrics.dataset.manifest_sha256,
      provenance.dataset_manifest_sha256,
    ]);
  }
  const mismatches = pairs.filter(([, a, b]) => a !== b);
  return [{
    check: "metrics.json agrees with provenance.json",
    status: mismatches.length === 0 ? "pass" : "fail",
    detail: mismatches.length === 0
      ? pairs.map(([name]) => name).join(", ")
      : mismatches.map(([name, a, b]) =>
        `${name}: metrics.json has ${JSON.stringify(a)}, provenance.json ${
          JSON.stringify(b)
        }`
      ).join("; "),
  }];
}

/** Recomputes each set with dumped embeddings (`embeddings_<set>` roles). */
async function embeddingsChecks(
  provenance: Provenance,
  metrics: Metrics,
  config: Config,
  located: Map<string, string>,
  evaluate: EmbeddingsEvaluator | undefined,
): Promise<AuditCheck[]> {
  const checks: AuditCheck[] = [];
  const artifacts = provenance.stages.evaluate?.artifacts ?? {};
  for (const role of Object.keys(artifacts)) {
    if (!role.startsWith("embeddings_")) continue;
    const set = role.slice("embeddings_".length);
    const check = `eval.${set} recomputed from embeddings`;
    const path = located.get(`evaluate.${role}`);
    if (path === undefined) {
      checks.push({
        check,
        status: "absent",
        detail: `embeddings "${artifacts[role].path}" not on disk`,
      });
    } else if (evaluate === undefined) {
      checks.push({
        check,
        status: "skipped",
        detail: "this version cannot read embeddings dumps yet",
      });
    } else {
      try {
        const recomputed = await evaluate(path, protocolOf(config));
        checks.push(embeddingsCheck(set, metrics.eval?.[set], recomputed));
      } catch (error) {
        checks.push({
          check,
          status: "fail",
          detail: `cannot evaluate "${path}": ${(error as Error).message}`,
        });
      }
    }
  }
  return checks;
}

/**
 * Audits one run folder.
 *
 * @param runDir The run folder, such as `results/<run-id>`.
 * @returns One check per row of the audit table, in a fixed order.
 */
export async function auditRun(
  runDir: string,
  options: AuditOptions = {},
): Promise<AuditCheck[]> {
  const root = options.repositoryRoot ?? Deno.cwd();
  const checks: AuditCheck[] = [];

  const provenanceRead = await readJsonChecked(
    runDir,
    "provenance.json",
    "provenance",
  );
  const metricsRead = await readJsonChecked(runDir, "metrics.json", "metrics");
  checks.push(provenanceRead.check, metricsRead.check);
  // Later checks read fields whose types only a valid document guarantees.
  const provenance = provenanceRead.check.status === "pass"
    ? provenanceRead.value as Provenance
    : undefined;
  const metrics = metricsRead.check.status === "pass"
    ? metricsRead.value as Metrics
    : undefined;

  const { config, check } = await configCheck(runDir, provenanceRead.value);
  checks.push(check);

  if (provenance !== undefined && metricsRead.value !== undefined) {
    checks.push(
      provenance.metrics_sha256 === undefined
        ? {
          check: "metrics.json hash",
          status: "skipped",
          detail:
            "provenance.json records no metrics_sha256 (a run written before it was recorded)",
        }
        : await hashCheck(
          "metrics.json hash",
          join(runDir, "metrics.json"),
          provenance.metrics_sha256,
        ),
    );
  }

  let located = new Map<string, string>();
  if (provenance !== undefined) {
    const artifacts = await artifactChecks(runDir, provenance, root);
    checks.push(...artifacts.checks);
    located = artifacts.located;
  }

  if (metrics !== undefined) {
    if (provenance !== undefined) {
      checks.push(...crossChecks(metrics, provenance));
    }
    if (config !== undefined) {
      checks.push(...configMetricsChecks(metrics, config));
    }
    checks.push(...foldStatisticsChecks(metrics));
  }

  if (
    provenance !== undefined && metrics !== undefined && config !== undefined
  ) {
    checks.push(
      ...await embeddingsChecks(
        provenance,
        metrics,
        config,
        located,
        options.evaluateEmbeddings,
      ),
    );
  }
  return checks;
}

/**
 * Returns whether an audit failed: any `fail`, and with `requireArtifacts`
 * any `absent` artefact too.
 */
export function auditFailed(
  checks: readonly AuditCheck[],
  options: { requireArtifacts?: boolean } = {},
): boolean {
  return checks.some((check) =>
    check.status === "fail" ||
    (options.requireArtifacts === true && check.status === "absent")
  );
}

/** Formats the checks as a Markdown table with a closing count line. */
export function renderAudit(runDir: string, checks: readonly AuditCheck[]) {
  const count = (status: string) =>
    checks.filter((check) => check.status === status).length;
  const escape = (text: string) => text.replace(/\|/g, "\\|");
  return [
    `Audit of ${runDir}`,
    "",
    "| check | result | detail |",
    "| --- | --- | --- |",
    ...checks.map((check) =>
      `| ${escape(check.check)} | ${check.status} | ${escape(check.detail)} |`
    ),
    "",
    `audit: ${count("pass")} checks pass, ${count("fail")} fail, ${
      count("absent")
    } artefacts absent, ${count("skipped")} skipped`,
  ].join("\n");
}
