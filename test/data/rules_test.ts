import assert from "node:assert/strict";
import { RULE_NAMES, RULE_OPERATIONS, ruleFor } from "../../src/data/rules.ts";

const DEFAULT_RULES = {
  sample_above: 350,
  keep_above: 200,
  opened_above: 90,
  noised_above: 30,
};

Deno.test("ruleFor drops at 30", () => {
  assert.equal(ruleFor(30, DEFAULT_RULES), "dropped");
});

Deno.test("ruleFor adds noisy copies at 31", () => {
  assert.equal(ruleFor(31, DEFAULT_RULES), "kept_opened_noised");
});

Deno.test("ruleFor adds noisy copies at 90", () => {
  assert.equal(ruleFor(90, DEFAULT_RULES), "kept_opened_noised");
});

Deno.test("ruleFor adds opened copy at 91", () => {
  assert.equal(ruleFor(91, DEFAULT_RULES), "kept_opened");
});

Deno.test("ruleFor adds opened copy at 200", () => {
  assert.equal(ruleFor(200, DEFAULT_RULES), "kept_opened");
});

Deno.test("ruleFor keeps all at 201", () => {
  assert.equal(ruleFor(201, DEFAULT_RULES), "kept");
});

Deno.test("ruleFor keeps all at 350", () => {
  assert.equal(ruleFor(350, DEFAULT_RULES), "kept");
});

Deno.test("ruleFor samples at 351", () => {
  assert.equal(ruleFor(351, DEFAULT_RULES), "sampled_350");
});

Deno.test("ruleFor drops an empty identity", () => {
  assert.equal(ruleFor(0, DEFAULT_RULES), "dropped");
});

Deno.test("ruleFor keeps names with scaled thresholds", () => {
  const rules = {
    sample_above: 8,
    keep_above: 6,
    opened_above: 4,
    noised_above: 2,
  };
  assert.equal(ruleFor(9, rules), "sampled_350");
  assert.equal(ruleFor(7, rules), "kept");
  assert.equal(ruleFor(5, rules), "kept_opened");
  assert.equal(ruleFor(3, rules), "kept_opened_noised");
  assert.equal(ruleFor(2, rules), "dropped");
});

Deno.test("ruleFor rejects a negative count", () => {
  assert.throws(() => ruleFor(-1, DEFAULT_RULES), {
    name: "RangeError",
    message:
      "Cannot pick rule: image count must be a non-negative integer, got -1",
  });
});

Deno.test("RULE_OPERATIONS lists copies per rule", () => {
  assert.deepEqual(RULE_NAMES, [
    "sampled_350",
    "kept",
    "kept_opened",
    "kept_opened_noised",
    "dropped",
  ]);
  assert.deepEqual(RULE_OPERATIONS.sampled_350, ["original"]);
  assert.deepEqual(RULE_OPERATIONS.kept, ["original"]);
  assert.deepEqual(RULE_OPERATIONS.kept_opened, ["original", "opened"]);
  assert.deepEqual(RULE_OPERATIONS.kept_opened_noised, [
    "original",
    "opened",
    "gaussian",
    "salt_pepper",
  ]);
  assert.deepEqual(RULE_OPERATIONS.dropped, []);
});
