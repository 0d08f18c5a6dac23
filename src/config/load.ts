/**
 * Resolves a run's configuration once: `configs/defaults.yaml`, then the
 * profile file, then each `--set key=value` override, merged in that order and
 * validated as a whole.
 *
 * @module
 */

import { basename, dirname, extname, join } from "node:path";
import { parse, stringify } from "yaml";
import { sha256Hex } from "../hash.ts";
import type { Config } from "./types.ts";
import { ConfigError, validateConfig } from "./validate.ts";

/** A resolved configuration with what a run folder records about it. */
export interface ResolvedConfig {
  config: Config;
  /** Profile name: the file name of the profile without `.yaml`. */
  profile: string;
  /** The profile file that was read. */
  path: string;
  /** The `--set` overrides as given. */
  overrides: string[];
  /** SHA-256 of the canonical JSON of `config`. */
  sha256: string;
}

type Mapping = Record<string, unknown>;

function isMapping(value: unknown): value is Mapping {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Merges `over` into `base`: mappings merge key by key, anything else replaces. */
export function mergeConfig(base: unknown, over: unknown): unknown {
  if (!isMapping(base) || !isMapping(over)) return structuredClone(over);
  const result: Mapping = structuredClone(base);
  for (const [key, value] of Object.entries(over)) {
    result[key] = key in result
      ? mergeConfig(result[key], value)
      : structuredClone(value);
  }
  return result;
}

async function readYaml(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new ConfigError("", `Cannot read config: file "${path}" not found`);
    }
    throw error;
  }
  try {
    return parse(text) ?? {};
  } catch (error) {
    throw new SyntaxError(
      `Cannot parse config "${path}": ${(error as Error).message}`,
    );
  }
}

/**
 * Applies one `key=value` override, where key is a dotted path with optional
 * list indices (`eval.sets[0].root`) and value is parsed as YAML.
 *
 * @throws {ConfigError} When the override has no `=` or its path does not exist.
 */
export function applyOverride(config: unknown, override: string): unknown {
  const eq = override.indexOf("=");
  if (eq <= 0) {
    throw new ConfigError(
      "",
      `Invalid --set "${override}": expected key=value, such as train.log_every=5`,
    );
  }
  const key = override.slice(0, eq);
  const raw = override.slice(eq + 1);
  let value: unknown;
  try {
    value = parse(raw);
  } catch {
    value = raw;
  }
  if (value === undefined) value = null;
  const parts = key.split(".").flatMap((part) => {
    const match = /^([^[\]]+)((?:\[\d+\])*)$/.exec(part);
    if (!match) {
      throw new ConfigError(
        key,
        `Invalid --set key "${key}": cannot read "${part}"`,
      );
    }
    const indices = [...match[2].matchAll(/\[(\d+)\]/g)].map((m) =>
      Number(m[1])
    );
    return [match[1] as string | number, ...indices];
  });
  const result = structuredClone(config) as Mapping;
  let node: unknown = result;
  for (let i = 0; i < parts.length - 1; i++) {
    const next = (node as Mapping)[parts[i] as string];
    if (next === null || typeof next !== "object") {
      throw new ConfigError(
        key,
        `Invalid --set key "${key}": "${
          parts.slice(0, i + 1).join(".")
        }" is not a mapping or list`,
      );
    }
    node = next;
  }
  const last = parts[parts.length - 1];
  if (
    Array.isArray(node) && (typeof last !== "number" || last >= node.length)
  ) {
    throw new ConfigError(
      key,
      `Invalid --set key "${key}": index out of range`,
    );
  }
  (node as Mapping)[last as string] = value;
  return result;
}

/** Returns JSON with object keys sorted, so equal configs hash equally. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (isMapping(value)) {
    const entries = Object.keys(value).sort().map((key) =>
      `${JSON.stringify(key)}:${canonicalJson(value[key])}`
    );
    return `{${entries.join(",")}}`;
  }
  return JSON.stringify(value);
}

/** Returns the profile file of a profile name: `configs/<name>.yaml`. */
export function profilePath(name: string, configDir = "configs"): string {
  return join(configDir, `${name}.yaml`);
}

/**
 * Loads and validates a configuration.
 *
 * @param path The profile file, such as `configs/smoke.yaml`.
 * @param overrides `key=value` strings applied after the profile.
 * @throws {ConfigError} On a missing file, unknown key or invalid value.
 * @throws {SyntaxError} When a file is not valid YAML.
 */
export async function loadConfig(
  path: string,
  overrides: string[] = [],
): Promise<ResolvedConfig> {
  const defaultsPath = join(dirname(path), "defaults.yaml");
  let merged = mergeConfig(await readYaml(defaultsPath), await readYaml(path));
  for (const override of overrides) merged = applyOverride(merged, override);
  const source = overrides.length > 0
    ? `"${path}" with --set overrides`
    : `"${path}"`;
  const config = validateConfig(merged, source);
  return {
    config,
    profile: basename(path, extname(path)),
    path,
    overrides,
    sha256: await sha256Hex(canonicalJson(config)),
  };
}

/**
 * Validates the config.yaml of a run folder. A run written before a config
 * key existed lacks that key, so missing keys are filled from the current
 * `configs/defaults.yaml` and `filled` is true. The saved values are never
 * changed, and the run's hash must be taken from the parsed document itself
 * with `canonicalJson`.
 *
 * @param saved The parsed config.yaml.
 * @param source Names the file in messages.
 * @throws {ConfigError} When the saved config is invalid even with the
 *     missing keys filled.
 */
export async function validateSavedConfig(
  saved: unknown,
  source: string,
  defaultsPath = "configs/defaults.yaml",
): Promise<{ config: Config; filled: boolean }> {
  try {
    return { config: validateConfig(saved, source), filled: false };
  } catch (error) {
    if (!(error instanceof ConfigError) || !/missing key/.test(error.message)) {
      throw error;
    }
    const merged = mergeConfig(await readYaml(defaultsPath), saved);
    return { config: validateConfig(merged, source), filled: true };
  }
}

/** Returns the resolved configuration as YAML, as saved in a run folder. */
export function configToYaml(config: Config): string {
  return stringify(config, { lineWidth: 0 });
}
