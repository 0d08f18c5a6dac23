/**
 * Checks a parsed configuration against `CONFIG_SPEC` and the rules that tie
 * keys together, reporting the first problem with its key path and source.
 *
 * @module
 */

import { CONFIG_SPEC, type Spec } from "./schema.ts";
import type { Config } from "./types.ts";

/** A configuration that cannot be used; `key` is the dotted key path. */
export class ConfigError extends Error {
  key: string;
  constructor(key: string, message: string) {
    super(message);
    this.name = "ConfigError";
    this.key = key;
  }
}

function describe(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

function fail(key: string, source: string, detail: string): never {
  throw new ConfigError(
    key,
    `Invalid config key "${key}" in ${source}: ${detail}`,
  );
}

/** Returns a copy of `value` with object defaults filled, or throws. */
function check(
  value: unknown,
  spec: Spec,
  key: string,
  source: string,
): unknown {
  switch (spec.kind) {
    case "nullable":
      return value === null ? null : check(value, spec.of, key, source);
    case "boolean":
      if (typeof value !== "boolean") {
        fail(key, source, `expected true or false, got ${describe(value)}`);
      }
      return value;
    case "string":
      if (typeof value !== "string") {
        fail(key, source, `expected a string, got ${describe(value)}`);
      }
      if (spec.choices && !spec.choices.includes(value)) {
        fail(
          key,
          source,
          `expected one of ${spec.choices.join(", ")}, got ${describe(value)}`,
        );
      }
      return value;
    case "number": {
      if (typeof value !== "number" || !Number.isFinite(value)) {
        fail(key, source, `expected a finite number, got ${describe(value)}`);
      }
      if (spec.integer && !Number.isInteger(value)) {
        fail(key, source, `expected an integer, got ${value}`);
      }
      const low = spec.min;
      if (
        low !== undefined &&
        (value < low || (spec.exclusiveMin && value === low))
      ) {
        fail(
          key,
          source,
          `expected a value ${
            spec.exclusiveMin ? ">" : ">="
          } ${low}, got ${value}`,
        );
      }
      if (spec.max !== undefined && value > spec.max) {
        fail(key, source, `expected a value <= ${spec.max}, got ${value}`);
      }
      return value;
    }
    case "list": {
      if (!Array.isArray(value)) {
        fail(key, source, `expected a list, got ${describe(value)}`);
      }
      if (spec.minItems !== undefined && value.length < spec.minItems) {
        fail(
          key,
          source,
          `expected at least ${spec.minItems} items, got ${value.length}`,
        );
      }
      return value.map((item, i) =>
        check(item, spec.of, `${key}[${i}]`, source)
      );
    }
    case "object": {
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        fail(key, source, `expected a mapping, got ${describe(value)}`);
      }
      const record = value as Record<string, unknown>;
      const prefix = key === "" ? "" : `${key}.`;
      for (const name of Object.keys(record)) {
        if (!(name in spec.fields)) {
          fail(
            prefix + name,
            source,
            `unknown key; allowed keys here are ${
              Object.keys(spec.fields).join(", ")
            }`,
          );
        }
      }
      const result: Record<string, unknown> = {};
      for (const [name, fieldSpec] of Object.entries(spec.fields)) {
        let fieldValue = record[name];
        if (
          fieldValue === undefined && spec.defaults && name in spec.defaults
        ) {
          fieldValue = structuredClone(spec.defaults[name]);
        }
        if (fieldValue === undefined) {
          fail(prefix + name, source, "missing key");
        }
        result[name] = check(fieldValue, fieldSpec, prefix + name, source);
      }
      return result;
    }
  }
}

/** Checks the rules that relate several keys. */
function checkRelations(config: Config, source: string): void {
  const { rules } = config.dataset;
  if (
    !(rules.noised_above < rules.opened_above &&
      rules.opened_above < rules.keep_above &&
      rules.keep_above < rules.sample_above)
  ) {
    fail(
      "dataset.rules",
      source,
      "expected noised_above < opened_above < keep_above < sample_above, got " +
        `${rules.noised_above}, ${rules.opened_above}, ${rules.keep_above}, ${rules.sample_above}`,
    );
  }
  if (config.dataset.augment.opening_size % 2 === 0) {
    fail(
      "dataset.augment.opening_size",
      source,
      `expected an odd size so the element has a centre, got ${config.dataset.augment.opening_size}`,
    );
  }
  if (config.model.input_size % 16 !== 0) {
    fail(
      "model.input_size",
      source,
      `expected a multiple of 16 (the network downsamples by 16), got ${config.model.input_size}`,
    );
  }
  if (config.dataset.image_size !== config.model.input_size) {
    fail(
      "dataset.image_size",
      source,
      `expected the model's input size model.input_size (${config.model.input_size}), got ${config.dataset.image_size}`,
    );
  }
  const { train } = config;
  if (train.batch_size % train.micro_batch_size !== 0) {
    fail(
      "train.micro_batch_size",
      source,
      `expected a divisor of train.batch_size (${train.batch_size}), got ${train.micro_batch_size}`,
    );
  }
  train.lr_milestones.forEach((milestone, i) => {
    if (i > 0 && milestone <= train.lr_milestones[i - 1]) {
      fail(
        `train.lr_milestones[${i}]`,
        source,
        `expected increasing steps, got ${milestone} after ${
          train.lr_milestones[i - 1]
        }`,
      );
    }
    if (milestone >= train.steps) {
      fail(
        `train.lr_milestones[${i}]`,
        source,
        `expected a step below train.steps (${train.steps}), got ${milestone}: lower the milestones with train.lr_milestones, such as --set train.lr_milestones=[]`,
      );
    }
  });
  if (train.warmup_steps >= train.steps) {
    fail(
      "train.warmup_steps",
      source,
      `expected fewer than train.steps (${train.steps}), got ${train.warmup_steps}`,
    );
  }
  if (config.mtcnn.thresholds.length !== 3) {
    fail(
      "mtcnn.thresholds",
      source,
      `expected three probabilities (P-Net, R-Net, O-Net), got ${config.mtcnn.thresholds.length}`,
    );
  }
  const names = new Set<string>();
  config.eval.sets.forEach((set, i) => {
    const key = `eval.sets[${i}]`;
    if (names.has(set.name)) {
      fail(`${key}.name`, source, `duplicate set name ${describe(set.name)}`);
    }
    names.add(set.name);
    if (!/^[A-Za-z0-9_-]+$/.test(set.name)) {
      fail(
        `${key}.name`,
        source,
        `expected letters, digits, "_" or "-" (it names files), got ${
          describe(set.name)
        }`,
      );
    }
    const kinds = [
      set.root !== null,
      set.make_pairs !== null,
      set.synthetic,
      set.bin !== null,
    ].filter(Boolean).length;
    if (kinds !== 1) {
      const present = [
        set.root !== null ? "root" : null,
        set.make_pairs !== null ? "make_pairs" : null,
        set.synthetic ? "synthetic" : null,
        set.bin !== null ? "bin" : null,
      ].filter((name) => name !== null);
      fail(
        key,
        source,
        `expected exactly one of root (with pairs), make_pairs, synthetic: true or bin, got ${
          present.length === 0 ? "none" : present.join(" and ")
        }`,
      );
    }
    if (set.pairs !== null && set.root === null) {
      fail(
        `${key}.pairs`,
        source,
        "a pairs file needs root, the folder its names refer to: set root, or remove pairs",
      );
    }
    if (set.synthetic && config.dataset.synthetic === null) {
      fail(
        `${key}.synthetic`,
        source,
        "needs dataset.synthetic, which generates the held-out identities",
      );
    }
  });
  config.dataset.roots.forEach((root, i) => {
    if (root.format === "recordio" && !/\.rec$/i.test(root.path)) {
      fail(
        `dataset.roots[${i}].path`,
        source,
        `expected the path of a .rec file for format recordio (its .idx lies beside it), got ${
          describe(root.path)
        }`,
      );
    }
  });
  if (config.dataset.roots.length === 0 && config.dataset.synthetic === null) {
    fail(
      "dataset.roots",
      source,
      "expected at least one root, or dataset.synthetic for generated faces",
    );
  }
}

/**
 * Validates a merged configuration and returns it typed, with defaults of
 * list items filled in.
 *
 * @param value The merged YAML value.
 * @param source Where the value came from, for messages.
 * @throws {ConfigError} On an unknown key, a wrong type or a value out of range.
 */
export function validateConfig(value: unknown, source: string): Config {
  const config = check(value, CONFIG_SPEC, "", source) as Config;
  checkRelations(config, source);
  return config;
}
