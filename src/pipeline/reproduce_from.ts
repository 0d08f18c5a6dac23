/**
 * The configuration of an earlier run, for `deno task reproduce --from
 * RUN_DIR`: its resolved config.yaml (seeds included), checked against the
 * hash its provenance.json recorded, so a rerun starts from exactly what the
 * earlier run used.
 *
 * @module
 */

import { join } from "node:path";
import { parse } from "yaml";
import {
  applyOverride,
  canonicalJson,
  type ResolvedConfig,
} from "../config/load.ts";
import { validateConfig } from "../config/validate.ts";
import { validateSavedConfig } from "../config/load.ts";
import { InputError } from "../errors.ts";
import { sha256Hex } from "../hash.ts";

/** The earlier run's resolved configuration and where it came from. */
export interface RunConfig {
  resolved: ResolvedConfig;
  /** Run id recorded in the earlier run's provenance.json. */
  sourceRunId: string;
}

/** Reads a JSON or YAML file of a run folder, naming it when it is missing. */
async function readRunFile(runDir: string, name: string): Promise<string> {
  const path = join(runDir, name);
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new InputError(
        `Cannot reproduce "${runDir}": "${path}" not found: pass a run folder made by deno task reproduce`,
      );
    }
    throw error;
  }
}

/**
 * Loads the resolved configuration of the run in `runDir`, then applies
 * `overrides` (such as `runtime.backend=cpu`).
 *
 * @param runDir The earlier run's folder.
 * @param overrides `key=value` strings applied after the saved config.
 * @returns The configuration to rerun and the earlier run's id.
 * @throws {InputError} When config.yaml or provenance.json is missing, or
 *     when config.yaml no longer hashes to the recorded config_sha256.
 * @throws {SyntaxError} When either file cannot be parsed.
 * @throws {ConfigError} When the saved config is not valid.
 */
export async function loadRunConfig(
  runDir: string,
  overrides: string[] = [],
): Promise<RunConfig> {
  const configPath = join(runDir, "config.yaml");
  const provenancePath = join(runDir, "provenance.json");
  const configText = await readRunFile(runDir, "config.yaml");
  const provenanceText = await readRunFile(runDir, "provenance.json");
  let saved: unknown;
  let provenance: {
    run_id?: unknown;
    profile?: unknown;
    config_sha256?: unknown;
  };
  try {
    saved = parse(configText);
  } catch (error) {
    throw new SyntaxError(
      `Cannot parse "${configPath}": ${(error as Error).message}`,
    );
  }
  try {
    provenance = JSON.parse(provenanceText);
  } catch (error) {
    throw new SyntaxError(
      `Cannot parse "${provenancePath}": ${(error as Error).message}`,
    );
  }
  if (
    typeof provenance.run_id !== "string" ||
    typeof provenance.profile !== "string" ||
    typeof provenance.config_sha256 !== "string"
  ) {
    throw new InputError(
      `Cannot reproduce "${runDir}": "${provenancePath}" lacks run_id, profile or config_sha256: run deno task audit ${runDir}`,
    );
  }

  const { config } = await validateSavedConfig(saved, `"${configPath}"`);
  const savedSha256 = await sha256Hex(canonicalJson(saved));
  if (savedSha256 !== provenance.config_sha256) {
    throw new InputError(
      `Cannot reproduce "${runDir}": config.yaml hashes to ${savedSha256} but provenance.json records ${provenance.config_sha256}: ` +
        `the config was edited after the run; run deno task audit ${runDir}`,
    );
  }

  let merged: unknown = config;
  for (const override of overrides) merged = applyOverride(merged, override);
  const source = overrides.length > 0
    ? `"${configPath}" with --set overrides`
    : `"${configPath}"`;
  const resolvedConfig = validateConfig(merged, source);
  return {
    resolved: {
      config: resolvedConfig,
      profile: provenance.profile,
      path: configPath,
      overrides,
      sha256: await sha256Hex(canonicalJson(resolvedConfig)),
    },
    sourceRunId: provenance.run_id,
  };
}
