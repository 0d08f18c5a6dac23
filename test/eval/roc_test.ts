import assert from "node:assert/strict";
import { rocCurve, thinRoc } from "../../src/eval/roc.ts";
import { Rng } from "../../src/rng.ts";

const TOLERANCE = 1e-12;

function close(actual: number, expected: number, label: string): void {
  assert.ok(
    Math.abs(actual - expected) <= TOLERANCE,
    `${label}: expected ${expected}, found ${actual}`,
  );
}

Deno.test("rocCurve gives points and AUC of a hand case", () => {
  // Sorted: 0.1 same, 0.3 different, 0.4 same, 0.5 different. Of the four
  // (same, different) orderings only (0.4, 0.3) is wrong: AUC = 3/4.
  const curve = rocCurve(new Float64Array([0.4, 0.3, 0.1, 0.5]), [
    true,
    false,
    true,
    false,
  ]);
  assert.deepEqual(curve.far, [0, 0, 0.5, 0.5, 1]);
  assert.deepEqual(curve.tar, [0, 0.5, 0.5, 1, 1]);
  close(curve.auc, 0.75, "auc");
});

Deno.test("rocCurve counts a tied pair as half", () => {
  // Same 0.1 and 0.3, different 0.3 and 0.5: three correct orderings and one
  // tie give AUC (3 + 0.5) / 4; the tie is one diagonal segment.
  const curve = rocCurve(new Float64Array([0.1, 0.3, 0.3, 0.5]), [
    true,
    true,
    false,
    false,
  ]);
  assert.deepEqual(curve.far, [0, 0, 0.5, 1]);
  assert.deepEqual(curve.tar, [0, 0.5, 1, 1]);
  close(curve.auc, 0.875, "auc");
});

Deno.test("rocCurve AUC equals the Mann-Whitney count", () => {
  const rng = new Rng([7, 1, 2, 3]);
  const count = 400;
  // Two decimals make many ties within and across classes.
  const distances = new Float64Array(count);
  const issame: boolean[] = [];
  for (let i = 0; i < count; i++) {
    const same = rng.uniform() < 0.5;
    issame.push(same);
    distances[i] = Math.round((same ? 1 : 1.6) * 100 * rng.uniform() + 50) /
      100;
  }
  let wins = 0;
  let sameCount = 0;
  for (let i = 0; i < count; i++) {
    if (!issame[i]) continue;
    sameCount += 1;
    for (let j = 0; j < count; j++) {
      if (issame[j]) continue;
      if (distances[i] < distances[j]) wins += 1;
      else if (distances[i] === distances[j]) wins += 0.5;
    }
  }
  const expected = wins / (sameCount * (count - sameCount));
  close(rocCurve(distances, issame).auc, expected, "auc");
});

Deno.test("rocCurve EER of a symmetric case", () => {
  // Same 0.1 0.2 0.3 0.6, different 0.4 0.7 0.8 0.9: accepting d <= 0.4
  // gives FAR 1/4 and TAR 3/4, so FAR = FRR = 0.25 at a point of the curve.
  const curve = rocCurve(
    new Float64Array([0.1, 0.2, 0.3, 0.6, 0.4, 0.7, 0.8, 0.9]),
    [true, true, true, true, false, false, false, false],
  );
  close(curve.eer, 0.25, "eer");
});

Deno.test("rocCurve interpolates EER along a segment", () => {
  // Points (0,0) (0,0.5) (0.5,1) (1,1); FAR - FRR goes from -0.5 to 0.5 on
  // the diagonal segment, so they meet halfway: FAR 0.25, TAR 0.75.
  const curve = rocCurve(new Float64Array([0.1, 0.2, 0.2, 0.3]), [
    true,
    true,
    false,
    false,
  ]);
  close(curve.eer, 0.25, "eer");
});

Deno.test("rocCurve perfect separation gives AUC 1 and EER 0", () => {
  const curve = rocCurve(new Float64Array([0.1, 0.2, 1.1, 1.2]), [
    true,
    true,
    false,
    false,
  ]);
  close(curve.auc, 1, "auc");
  close(curve.eer, 0, "eer");
});

Deno.test("rocCurve rejects bad input", () => {
  assert.throws(
    () => rocCurve(new Float64Array([0.1, 0.2]), [true]),
    (error: unknown) =>
      error instanceof TypeError &&
      /2 distances but 1 labels/.test(error.message),
  );
  assert.throws(
    () => rocCurve(new Float64Array([0.1, 0.2]), [true, true]),
    (error: unknown) =>
      error instanceof RangeError && /found 2 and 0/.test(error.message),
  );
  assert.throws(
    () => rocCurve(new Float64Array([0.1, NaN]), [true, false]),
    (error: unknown) =>
      error instanceof RangeError && /pair 1 is NaN/.test(error.message),
  );
});

Deno.test("thinRoc keeps ends and bounds the count", () => {
  const far = Array.from({ length: 1001 }, (_, i) => i / 1000);
  const tar = far.map((x) => Math.sqrt(x));
  const thin = thinRoc({ far, tar }, 500);
  assert.ok(thin.far.length <= 500, `${thin.far.length} points`);
  assert.ok(thin.far.length >= 499, `${thin.far.length} points`);
  assert.equal(thin.far[0], 0);
  assert.equal(thin.far.at(-1), 1);
  assert.equal(thin.tar.at(-1), 1);
  for (let i = 1; i < thin.far.length; i++) {
    assert.ok(thin.far[i] > thin.far[i - 1], `order at ${i}`);
  }
});

Deno.test("thinRoc leaves a short curve unchanged", () => {
  const points = { far: [0, 0.5, 1], tar: [0, 0.9, 1] };
  assert.deepEqual(thinRoc(points, 500), points);
});

Deno.test("thinRoc rejects maxPoints below 2", () => {
  assert.throws(
    () => thinRoc({ far: [0, 1], tar: [0, 1] }, 1),
    RangeError,
  );
});
