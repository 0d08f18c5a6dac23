/**
 * Configurations rejected before any work: the message names the key and
 * the allowed range, and no run folder or cache entry is made.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadConfig } from "../../src/config/load.ts";
import { ConfigError } from "../../src/config/validate.ts";
import { run, taskArgs } from "./_process.ts";

const SMOKE = new URL("../../configs/smoke.yaml", import.meta.url).pathname;

/** Each override with the key and the message detail it must give. */
const CASES = [
  ["loss.margin=-0.1", "loss.margin", "expected a value >= 0, got -0.1"],
  [
    "loss.margin=2",
    "loss.margin",
    "expected a value <= 1.5707963267948966, got 2",
  ],
  ["loss.scale=0", "loss.scale", "expected a value > 0, got 0"],
  [
    "train.batch_size=ten",
    "train.batch_size",
    'expected a finite number, got "ten"',
  ],
  [
    "train.micro_batch_size=48",
    "train.micro_batch_size",
    "expected a divisor of train.batch_size (64), got 48",
  ],
  [
    "train.lr_milestones=[900]",
    "train.lr_milestones[0]",
    "expected a step below train.steps",
  ],
  [
    "dataset.rules.noised_above=99",
    "dataset.rules",
    "expected noised_above < opened_above < keep_above < sample_above",
  ],
  ["model.widht_multiplier=1", "model.widht_multiplier", "unknown key"],
] as const;

for (const [override, key, detail] of CASES) {
  Deno.test(`loadConfig rejects ${override}`, async () => {
    await assert.rejects(loadConfig(SMOKE, [override]), (error: Error) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.key, key);
      assert.ok(
        error.message.startsWith(`Invalid config key "${key}" in "${SMOKE}"`),
        error.message,
      );
      assert.ok(error.message.includes(detail), error.message);
      return true;
    });
  });
}

Deno.test("reproduce with a bad config writes nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "robustness_" });
  try {
    const result = await run(taskArgs("reproduce", [
      "--profile",
      "smoke",
      "--set",
      `dataset.cache_dir=${join(dir, "cache")}`,
      "--set",
      "loss.margin=-0.1",
      "--results-dir",
      join(dir, "results"),
    ]));
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr.trim(),
      'error: Invalid config key "loss.margin" in "configs/smoke.yaml" with --set overrides: expected a value >= 0, got -0.1',
    );
    assert.deepEqual(await Array.fromAsync(Deno.readDir(dir)), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
