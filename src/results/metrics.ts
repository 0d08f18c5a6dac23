/**
 * metrics.json (schema_version 1): what a run measured. A field the run did
 * not produce is absent, never zero-filled.
 *
 * @module
 */

import type { EvalMetrics } from "../eval/verify.ts";
import { writeTextAtomic } from "../fs.ts";
import { sha256Hex } from "../hash.ts";
import { assertSchema } from "./schema.ts";

/** Counts of the dataset stage. */
export interface DatasetMetrics {
  identities_in: number;
  images_in: number;
  identities_kept: number;
  images_out: number;
  by_rule: {
    sampled_350: number;
    kept: number;
    kept_opened: number;
    kept_opened_noised: number;
    dropped: number;
  };
  manifest_sha256: string;
}

/** The metrics.json of a run folder. */
export interface Metrics {
  schema_version: 1;
  run_id: string;
  profile: string;
  dataset?: DatasetMetrics;
  model?: {
    name: string;
    parameters: number;
    multiply_adds: number;
    embedding_size: number;
  };
  train?: {
    steps: number;
    effective_batch: number;
    micro_batch: number;
    accumulation_steps: number;
    arcface_shards: number;
    final_loss: number;
    images_per_second: number;
    peak_memory_bytes: { planned?: number; measured: number };
  };
  eval?: Record<string, EvalMetrics>;
  /**
   * A reference model on each set: the pretrained model, `"model":
   * "pretrained"`. Runs written before `pixel_baseline` existed record the
   * raw-pixel baseline here, with `"model": "pixels"`.
   */
  reference?: Record<string, ReferenceMetrics>;
  /** The raw-pixel baseline on each set. */
  pixel_baseline?: Record<string, ReferenceMetrics & { model: "pixels" }>;
}

/** A reference model's entry on one set: its name and what was measured. */
export type ReferenceMetrics =
  & { model: string; accuracy_mean: number }
  & Partial<EvalMetrics>;

/**
 * Returns the raw-pixel baseline of each set, from `pixel_baseline` or, in
 * runs written before that block existed, from the `reference` entries whose
 * model is `pixels`.
 */
export function pixelBaselines(
  metrics: Metrics,
): Record<string, ReferenceMetrics> {
  if (metrics.pixel_baseline) return metrics.pixel_baseline;
  return Object.fromEntries(
    Object.entries(metrics.reference ?? {}).filter(([, entry]) =>
      entry.model === "pixels"
    ),
  );
}

/** Returns the reference entries that are not the raw-pixel baseline. */
export function referenceModels(
  metrics: Metrics,
): Record<string, ReferenceMetrics> {
  return Object.fromEntries(
    Object.entries(metrics.reference ?? {}).filter(([, entry]) =>
      entry.model !== "pixels"
    ),
  );
}

/**
 * Returns metrics in the current form: a run written before `pixel_baseline`
 * existed recorded the raw-pixel baseline under `reference`, and that entry
 * moves to `pixel_baseline`, so two runs compare block by block.
 */
export function currentForm(metrics: Metrics): Metrics {
  if (metrics.pixel_baseline || !metrics.reference) return metrics;
  const pixels = pixelBaselines(metrics);
  if (Object.keys(pixels).length === 0) return metrics;
  const { reference: _, ...rest } = metrics;
  const models = referenceModels(metrics);
  return {
    ...rest,
    ...(Object.keys(models).length > 0 ? { reference: models } : {}),
    pixel_baseline: Object.fromEntries(
      Object.entries(pixels).map(([set, entry]) => [
        set,
        { ...entry, model: "pixels" as const },
      ]),
    ),
  };
}

/** Returns the dotted path of the first non-finite or undefined number, if any. */
export function findInvalidNumber(value: unknown, path = ""): string | null {
  if (typeof value === "number") return Number.isFinite(value) ? null : path;
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const found = findInvalidNumber(item, `${path}[${i}]`);
      if (found !== null) return found;
    }
    return null;
  }
  if (value !== null && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) {
      if (item === undefined) return path ? `${path}.${key}` : key;
      const found = findInvalidNumber(item, path ? `${path}.${key}` : key);
      if (found !== null) return found;
    }
  }
  return null;
}

/**
 * Writes metrics.json atomically after checking it against
 * `schemas/metrics.schema.json`.
 *
 * @returns The SHA-256 of the bytes written, for provenance.json.
 * @throws {RangeError} When a value is NaN, infinite or undefined: such a
 *     field must be left out instead.
 * @throws {TypeError} When the document does not match the schema.
 */
export async function writeMetrics(
  path: string,
  metrics: Metrics,
): Promise<string> {
  const invalid = findInvalidNumber(metrics);
  if (invalid !== null) {
    throw new RangeError(
      `Cannot write metrics "${path}": field "${invalid}" is not a finite number`,
    );
  }
  assertSchema("metrics", metrics, path);
  const text = JSON.stringify(metrics, null, 2) + "\n";
  await writeTextAtomic(path, text);
  return await sha256Hex(text);
}
