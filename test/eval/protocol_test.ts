import assert from "node:assert/strict";
import {
  crossValidateVerification,
  type ProtocolOptions,
  thresholdGrid,
} from "../../src/eval/protocol.ts";
import { Rng } from "../../src/rng.ts";

const TOLERANCE = 1e-12;
const LFW_OPTIONS: ProtocolOptions = {
  folds: 10,
  thresholdMax: 4,
  thresholdStep: 0.01,
  farTarget: 1e-3,
};

function close(actual: number, expected: number, label: string): void {
  assert.ok(
    Math.abs(actual - expected) <= TOLERANCE,
    `${label}: expected ${expected}, found ${actual}`,
  );
}

/** LFW-like labels: each fold is `perFold` same pairs, then `perFold` different. */
function foldLabels(folds: number, perFold: number): boolean[] {
  const labels: boolean[] = [];
  for (let fold = 0; fold < folds; fold++) {
    for (let i = 0; i < 2 * perFold; i++) labels.push(i < perFold);
  }
  return labels;
}

/** Overlapping distance distributions, rounded to 3 decimals to force ties. */
function randomDistances(rng: Rng, issame: boolean[]): Float64Array {
  const distances = new Float64Array(issame.length);
  for (let i = 0; i < issame.length; i++) {
    const center = issame[i] ? 0.9 : 1.6;
    const value = Math.min(4, Math.max(0, center + 0.35 * rng.normal()));
    distances[i] = Math.round(value * 1000) / 1000;
  }
  return distances;
}

/**
 * The protocol written as directly as possible: for each fold and threshold,
 * count over the pairs, as insightface's calculate_roc and calculate_val do.
 * The VAL threshold is evaluated as scipy evaluates a linear B-spline with
 * knots [x0, x..., x_last] (make_interp_spline with k = 1): find the knot
 * interval, then blend its two coefficients.
 */
function referenceProtocol(
  distances: Float64Array,
  issame: boolean[],
  options: ProtocolOptions,
) {
  const thresholds = Array.from(
    thresholdGrid(options.thresholdMax, options.thresholdStep),
  );
  const foldSize = distances.length / options.folds;
  const rates = (threshold: number, indices: number[]) => {
    let tp = 0, fp = 0, tn = 0, same = 0;
    for (const i of indices) {
      const accepted = distances[i] < threshold;
      if (issame[i]) {
        same += 1;
        if (accepted) tp += 1;
      } else {
        if (accepted) fp += 1;
        else tn += 1;
      }
    }
    return {
      accuracy: (tp + tn) / indices.length,
      val: tp / same,
      far: fp / (indices.length - same),
    };
  };
  const accuracies: number[] = [];
  const chosen: number[] = [];
  const valThresholds: number[] = [];
  const vals: number[] = [];
  for (let fold = 0; fold < options.folds; fold++) {
    const test: number[] = [];
    const train: number[] = [];
    for (let i = 0; i < distances.length; i++) {
      (Math.floor(i / foldSize) === fold ? test : train).push(i);
    }
    let best = 0;
    for (let t = 1; t < thresholds.length; t++) {
      if (
        rates(thresholds[t], train).accuracy >
          rates(thresholds[best], train).accuracy
      ) best = t;
    }
    accuracies.push(rates(thresholds[best], test).accuracy);
    chosen.push(thresholds[best]);

    const farTrain = thresholds.map((t) => rates(t, train).far);
    let threshold = 0;
    if (Math.max(...farTrain) >= options.farTarget) {
      const knots = [farTrain[0], ...farTrain, farTrain.at(-1)!];
      const n = farTrain.length;
      const x = options.farTarget;
      let l = 2;
      while (x >= knots[l] && l !== n) l += 1;
      l -= 1;
      const span = knots[l + 1] - knots[l];
      threshold = thresholds[l - 1] * (knots[l + 1] - x) / span +
        thresholds[l] * (x - knots[l]) / span;
    }
    valThresholds.push(threshold);
    vals.push(rates(threshold, test).val);
  }
  return { accuracies, chosen, valThresholds, vals };
}

Deno.test("thresholdGrid has 401 thresholds for 4 and 0.01", () => {
  const grid = thresholdGrid(4, 0.01);
  assert.equal(grid.length, 401);
  assert.equal(grid[0], 0);
  assert.equal(grid[400], 4);
  assert.equal(grid[37], 37 * 0.01);
});

Deno.test("thresholdGrid stops below a max off the grid", () => {
  const grid = thresholdGrid(1.005, 0.01);
  assert.equal(grid.length, 101);
  assert.equal(grid.at(-1), 1);
});

Deno.test("thresholdGrid rejects a zero step", () => {
  assert.throws(
    () => thresholdGrid(4, 0),
    (error: unknown) =>
      error instanceof RangeError && /thresholdStep/.test(error.message),
  );
});

Deno.test("crossValidateVerification on two folds of four", () => {
  // Fold 0: same 0.2 0.5, different 1.5 2.0.
  // Fold 1: same 0.3 0.9, different 1.2 2.5.
  // Held-out fold 0: fold 1 is all correct for 0.9 < t <= 1.2, and the first
  //   such grid value is 0.91; on fold 0 it classifies all four: accuracy 1.
  // Held-out fold 1: fold 0 is all correct for 0.5 < t <= 1.5, first 0.51; on
  //   fold 1 it rejects the same pair at 0.9: accuracy 3/4.
  const distances = new Float64Array([0.2, 0.5, 1.5, 2.0, 0.3, 0.9, 1.2, 2.5]);
  const issame = [true, true, false, false, true, true, false, false];
  const result = crossValidateVerification(distances, issame, {
    ...LFW_OPTIONS,
    folds: 2,
  });
  assert.deepEqual(result.foldThresholds, [0.91, 0.51]);
  assert.deepEqual(result.foldAccuracies, [1, 0.75]);
  close(result.accuracyMean, 0.875, "accuracyMean");
  // Population standard deviation of 1 and 0.75.
  close(result.accuracyStd, 0.125, "accuracyStd");
  close(result.thresholdMean, 0.71, "thresholdMean");
});

Deno.test("crossValidateVerification takes the first best threshold", () => {
  // Training fold (fold 1): same 0.1 0.5, different 0.3 0.8. Correct counts:
  // 3 for 0.1 < t <= 0.3, 2 for 0.3 < t <= 0.5, 3 again for 0.5 < t <= 0.8.
  // Both plateaus tie; the smallest threshold, 0.11, is chosen.
  const distances = new Float64Array([0.2, 0.4, 0.6, 0.9, 0.1, 0.5, 0.3, 0.8]);
  const issame = [true, true, false, false, true, true, false, false];
  const result = crossValidateVerification(distances, issame, {
    ...LFW_OPTIONS,
    folds: 2,
  });
  assert.equal(result.foldThresholds[0], 0.11);
});

Deno.test("crossValidateVerification predicts same only below t", () => {
  // Training fold (fold 1): same at exactly 0.5, different at 0.6. The grid
  // value 0.5 does not accept the pair at 0.5 (d < t is false), so the first
  // all-correct threshold is 0.51.
  const distances = new Float64Array([0.1, 0.2, 1.5, 2.0, 0.1, 0.5, 0.6, 2.0]);
  const issame = [true, true, false, false, true, true, false, false];
  const result = crossValidateVerification(distances, issame, {
    ...LFW_OPTIONS,
    folds: 2,
  });
  assert.equal(result.foldThresholds[0], 0.51);
});

Deno.test("crossValidateVerification perfect separation gives 1", () => {
  const rng = new Rng([11, 12, 13, 14]);
  const issame = foldLabels(10, 30);
  const distances = new Float64Array(issame.length);
  for (let i = 0; i < issame.length; i++) {
    distances[i] = issame[i] ? rng.uniform() : 2 + rng.uniform();
  }
  const result = crossValidateVerification(distances, issame, LFW_OPTIONS);
  assert.deepEqual(result.foldAccuracies, new Array(10).fill(1));
  assert.equal(result.accuracyMean, 1);
  assert.equal(result.accuracyStd, 0);
  close(result.auc, 1, "auc");
  close(result.eer, 0, "eer");
});

Deno.test("crossValidateVerification matches a direct count", () => {
  const rng = new Rng([21, 22, 23, 24]);
  const issame = foldLabels(10, 30);
  const distances = randomDistances(rng, issame);
  const options = { ...LFW_OPTIONS, farTarget: 0.05 };
  const result = crossValidateVerification(distances, issame, options);
  const reference = referenceProtocol(distances, issame, options);
  assert.deepEqual(result.foldAccuracies, reference.accuracies);
  assert.deepEqual(result.foldThresholds, reference.chosen);
  for (let fold = 0; fold < 10; fold++) {
    close(
      result.valThresholds[fold],
      reference.valThresholds[fold],
      `VAL threshold of fold ${fold}`,
    );
    assert.equal(result.foldVals[fold], reference.vals[fold]);
  }
});

Deno.test("crossValidateVerification handles 6,000 pairs", () => {
  const rng = new Rng([31, 32, 33, 34]);
  const issame = foldLabels(10, 300);
  const distances = randomDistances(rng, issame);
  const result = crossValidateVerification(distances, issame, LFW_OPTIONS);
  const reference = referenceProtocol(distances, issame, LFW_OPTIONS);
  assert.deepEqual(result.foldAccuracies, reference.accuracies);
  assert.deepEqual(result.foldThresholds, reference.chosen);
  assert.ok(result.roc.far.length <= 500, `${result.roc.far.length} points`);
  assert.equal(result.roc.far[0], 0);
  assert.equal(result.roc.far.at(-1), 1);
});

// Fold 0: same 0.1 0.403 0.4035 0.5, different 0.402 1 2 3.
// Fold 1: same 0.2 0.3 0.35 0.45, different 0.405 1 1.5 2.
const VAL_DISTANCES = new Float64Array([
  0.1,
  0.403,
  0.4035,
  0.5,
  0.402,
  1,
  2,
  3,
  0.2,
  0.3,
  0.35,
  0.45,
  0.405,
  1,
  1.5,
  2,
]);
const VAL_ISSAME = foldLabels(2, 4);

Deno.test("crossValidateVerification interpolates the VAL threshold", () => {
  // Either training fold has FAR 0 at t = 0.40 and 1/4 at t = 0.41 (one
  // different pair at 0.405 or 0.402). FAR 0.1 lies 0.4 of the way, so the
  // threshold is 0.40 + 0.4 * 0.01 = 0.404.
  // Held-out fold 0: same 0.1 0.403 0.4035 accepted (VAL 3/4); different
  //   0.402 accepted (FAR 1/4).
  // Held-out fold 1: same 0.2 0.3 0.35 accepted (VAL 3/4); none different.
  const result = crossValidateVerification(VAL_DISTANCES, VAL_ISSAME, {
    ...LFW_OPTIONS,
    folds: 2,
    farTarget: 0.1,
  });
  close(result.valThresholds[0], 0.404, "threshold of fold 0");
  close(result.valThresholds[1], 0.404, "threshold of fold 1");
  assert.deepEqual(result.foldVals, [0.75, 0.75]);
  assert.deepEqual(result.foldFars, [0.25, 0]);
  close(result.valMean, 0.75, "valMean");
  close(result.valStd, 0, "valStd");
  close(result.farMean, 0.125, "farMean");
});

Deno.test("crossValidateVerification VAL takes the last equal FAR", () => {
  // Training FAR is exactly 1/4 for every t from 0.41 to 1.00 (the next
  // different pair is at 1.0, accepted only from 1.01). A target of 1/4 hits
  // that run and gives its largest threshold, 1.00.
  const result = crossValidateVerification(VAL_DISTANCES, VAL_ISSAME, {
    ...LFW_OPTIONS,
    folds: 2,
    farTarget: 0.25,
  });
  assert.deepEqual(result.valThresholds, [1, 1]);
  assert.deepEqual(result.foldVals, [1, 1]);
});

Deno.test("crossValidateVerification VAL is 0 for an unreachable FAR", () => {
  // With thresholds up to 0.5, the training FAR never exceeds 1/4, so a
  // target of 1/2 falls back to the threshold 0, which accepts nothing.
  const result = crossValidateVerification(VAL_DISTANCES, VAL_ISSAME, {
    ...LFW_OPTIONS,
    folds: 2,
    thresholdMax: 0.5,
    farTarget: 0.5,
  });
  assert.deepEqual(result.valThresholds, [0, 0]);
  assert.deepEqual(result.foldVals, [0, 0]);
  assert.deepEqual(result.foldFars, [0, 0]);
});

function assertRejects(
  distances: Float64Array,
  issame: boolean[],
  options: ProtocolOptions,
  errorClass: typeof TypeError | typeof RangeError,
  message: RegExp,
): void {
  assert.throws(
    () => crossValidateVerification(distances, issame, options),
    (error: unknown) => {
      assert.ok(error instanceof errorClass, `wrong class: ${error}`);
      assert.match((error as Error).message, message);
      return true;
    },
  );
}

Deno.test("crossValidateVerification rejects differing lengths", () => {
  assertRejects(
    new Float64Array(4),
    [true, false],
    { ...LFW_OPTIONS, folds: 2 },
    TypeError,
    /4 distances but 2 labels/,
  );
});

Deno.test("crossValidateVerification rejects uneven folds", () => {
  assertRejects(
    new Float64Array(6),
    foldLabels(3, 1),
    { ...LFW_OPTIONS, folds: 4 },
    RangeError,
    /6 pairs cannot be split into 4 equal folds/,
  );
});

Deno.test("crossValidateVerification rejects a NaN distance", () => {
  const distances = new Float64Array([0.1, 0.2, 1, NaN]);
  assertRejects(
    distances,
    foldLabels(2, 1),
    { ...LFW_OPTIONS, folds: 2 },
    RangeError,
    /distance of pair 3 is NaN/,
  );
});

Deno.test("crossValidateVerification rejects a negative distance", () => {
  const distances = new Float64Array([0.1, -0.2, 1, 2]);
  assertRejects(
    distances,
    foldLabels(2, 1),
    { ...LFW_OPTIONS, folds: 2 },
    RangeError,
    /distance of pair 1 is -0.2/,
  );
});

Deno.test("crossValidateVerification rejects a one-class fold", () => {
  assertRejects(
    new Float64Array([0.1, 0.2, 1, 2]),
    [true, true, false, false],
    { ...LFW_OPTIONS, folds: 2 },
    RangeError,
    /fold 0 \(pairs 0 to 1\) has 2 same-person pairs of 2/,
  );
});

Deno.test("crossValidateVerification rejects one fold", () => {
  assertRejects(
    new Float64Array([0.1, 2]),
    [true, false],
    { ...LFW_OPTIONS, folds: 1 },
    RangeError,
    /Invalid folds/,
  );
});

Deno.test("crossValidateVerification rejects a FAR target above 1", () => {
  assertRejects(
    new Float64Array([0.1, 2, 0.1, 2]),
    foldLabels(2, 1),
    { ...LFW_OPTIONS, folds: 2, farTarget: 1.5 },
    RangeError,
    /Invalid farTarget/,
  );
});
