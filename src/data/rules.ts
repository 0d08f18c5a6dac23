/**
 * The per-identity rules of the dataset recipe: how many of an identity's n
 * images to use, and which augmented copies to add, so that identities with
 * few images are padded and identities with many are capped.
 *
 * @module
 */

import type { RulesConfig } from "../config/types.ts";

/**
 * The rule applied to one identity. The names are the keys of
 * `dataset.by_rule` in metrics.json and keep the default cap of 350 in
 * `sampled_350` even when `sample_above` is set to another value.
 */
export type RuleName =
  | "sampled_350"
  | "kept"
  | "kept_opened"
  | "kept_opened_noised"
  | "dropped";

/** Every rule, in the order of metrics.json. */
export const RULE_NAMES: readonly RuleName[] = [
  "sampled_350",
  "kept",
  "kept_opened",
  "kept_opened_noised",
  "dropped",
];

/** One output image made from a source image. */
export type Operation = "original" | "opened" | "gaussian" | "salt_pepper";

/** The output images each source image of a rule yields, in output order. */
export const RULE_OPERATIONS: Readonly<Record<RuleName, readonly Operation[]>> =
  {
    sampled_350: ["original"],
    kept: ["original"],
    kept_opened: ["original", "opened"],
    kept_opened_noised: ["original", "opened", "gaussian", "salt_pepper"],
    dropped: [],
  };

/**
 * Picks the rule for an identity with `n` images:
 *
 * - n > sample_above: `sampled_350`, a random sample of `sample_above` images;
 * - keep_above < n <= sample_above: `kept`, all images;
 * - opened_above < n <= keep_above: `kept_opened`, each image and its
 *   morphological opening;
 * - noised_above < n <= opened_above: `kept_opened_noised`, each image, its
 *   opening, a Gaussian-noise copy and a salt-and-pepper copy;
 * - n <= noised_above: `dropped`.
 *
 * @param n Images of the identity, a non-negative integer.
 * @param rules The thresholds, with noised_above < opened_above < keep_above
 *   < sample_above.
 * @throws {RangeError} When n is not a non-negative integer.
 *
 * @example Default thresholds
 * ```ts
 * import { ruleFor } from "./rules.ts";
 * const rules = { sample_above: 350, keep_above: 200, opened_above: 90, noised_above: 30 };
 * console.log(ruleFor(120, rules)); // "kept_opened"
 * ```
 */
export function ruleFor(n: number, rules: RulesConfig): RuleName {
  if (!Number.isInteger(n) || n < 0) {
    throw new RangeError(
      `Cannot pick rule: image count must be a non-negative integer, got ${n}`,
    );
  }
  if (n > rules.sample_above) return "sampled_350";
  if (n > rules.keep_above) return "kept";
  if (n > rules.opened_above) return "kept_opened";
  if (n > rules.noised_above) return "kept_opened_noised";
  return "dropped";
}
