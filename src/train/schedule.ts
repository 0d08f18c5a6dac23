/**
 * The step learning-rate schedule: an optional linear warm-up, then the base
 * rate multiplied by `lr_decay` at each milestone (MobileFaceNets, section
 * 4.1: 0.1, divided by 10 at 36K, 52K and 58K iterations).
 *
 * @module
 */

import type { TrainConfig } from "../config/types.ts";

/**
 * Returns the learning rate of a step, counted from 0.
 *
 * During warm-up, step t < W uses learning_rate * (t + 1) / W. Afterwards the
 * rate is learning_rate * lr_decay^k, where k counts the milestones <= step.
 */
export function learningRateAt(
  step: number,
  config: Pick<
    TrainConfig,
    "learning_rate" | "lr_milestones" | "lr_decay" | "warmup_steps"
  >,
): number {
  if (step < config.warmup_steps) {
    return (config.learning_rate * (step + 1)) / config.warmup_steps;
  }
  const passed =
    config.lr_milestones.filter((milestone) => milestone <= step).length;
  // Rounded to 12 significant digits, so 0.1 * 0.1 logs as 0.01.
  return Number(
    (config.learning_rate * config.lr_decay ** passed).toPrecision(12),
  );
}
