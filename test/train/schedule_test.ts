import assert from "node:assert/strict";
import { learningRateAt } from "../../src/train/schedule.ts";

const PAPER = {
  learning_rate: 0.1,
  lr_milestones: [36000, 52000, 58000],
  lr_decay: 0.1,
  warmup_steps: 0,
};

Deno.test("learningRateAt divides by 10 at each milestone", () => {
  assert.equal(learningRateAt(0, PAPER), 0.1);
  assert.equal(learningRateAt(35999, PAPER), 0.1);
  assert.ok(Math.abs(learningRateAt(36000, PAPER) - 0.01) < 1e-15);
  assert.ok(Math.abs(learningRateAt(52000, PAPER) - 0.001) < 1e-15);
  assert.ok(Math.abs(learningRateAt(59999, PAPER) - 0.0001) < 1e-15);
});

Deno.test("learningRateAt warms up linearly", () => {
  const config = { ...PAPER, warmup_steps: 4 };
  const rates = [0, 1, 2, 3, 4].map((s) => learningRateAt(s, config));
  const expected = [0.025, 0.05, 0.075, 0.1, 0.1];
  rates.forEach((rate, i) =>
    assert.ok(Math.abs(rate - expected[i]) < 1e-15, `step ${i}: ${rate}`)
  );
});
