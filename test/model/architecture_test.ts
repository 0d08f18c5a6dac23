import assert from "node:assert/strict";
import {
  countModel,
  mobileFaceNetUnits,
} from "../../src/model/architecture.ts";

const PAPER = { input_size: 112, width_multiplier: 1, embedding_size: 128 };

Deno.test("countModel gives 220,965,376 multiply-adds at 112x112", () => {
  assert.equal(countModel(mobileFaceNetUnits(PAPER)).multiplyAdds, 220_965_376);
});

Deno.test("countModel gives 976,000 conv weights", () => {
  assert.equal(countModel(mobileFaceNetUnits(PAPER)).convWeights, 976_000);
});

Deno.test("countModel gives 983,552 parameters with PReLU slopes", () => {
  assert.equal(countModel(mobileFaceNetUnits(PAPER)).parameters, 983_552);
});

Deno.test("mobileFaceNetUnits follows the layer table", () => {
  const units = mobileFaceNetUnits(PAPER);
  // conv1, conv2_dw, 15 bottlenecks of 3 convs, conv_head, gdconv, embedding
  assert.equal(units.length, 2 + 15 * 3 + 3);
  const gdconv = units.find((u) => u.name === "gdconv")!;
  assert.equal(gdconv.kernel, 7);
  assert.equal(gdconv.inputSize, 7);
  assert.equal(gdconv.outputSize, 1);
  assert.equal(gdconv.prelu, false);
  assert.equal(gdconv.group, "head");
  const embedding = units[units.length - 1];
  assert.equal(embedding.outChannels, 128);
  assert.equal(embedding.prelu, false);
  assert.equal(units.find((u) => u.name === "conv_head")!.group, "body");
});

Deno.test("mobileFaceNetUnits adds residuals at stride 1 only", () => {
  const units = mobileFaceNetUnits(PAPER);
  const projections = units.filter((u) => u.name.endsWith("/project"));
  const residual = projections.map((u) => u.residualFrom !== undefined);
  // stage1: 5 blocks, the first strided; stage2: 1 strided block (64 -> 128);
  // stage3: 6 blocks of 128 -> 128; stage4: 1 strided; stage5: 2 blocks.
  const expected = [
    ...[false, true, true, true, true],
    false,
    ...[true, true, true, true, true, true],
    false,
    ...[true, true],
  ];
  assert.deepEqual(residual, expected);
});

Deno.test("mobileFaceNetUnits expands the block input channels", () => {
  const units = mobileFaceNetUnits(PAPER);
  const expand = units.find((u) => u.name === "stage2/block0/expand")!;
  assert.equal(expand.inChannels, 64);
  assert.equal(expand.outChannels, 256);
});

Deno.test("mobileFaceNetUnits sizes GDConv to the final map", () => {
  const units = mobileFaceNetUnits({ ...PAPER, input_size: 64 });
  assert.equal(units.find((u) => u.name === "gdconv")!.kernel, 4);
});

Deno.test("mobileFaceNetUnits rejects an input size not divisible by 16", () => {
  assert.throws(
    () => mobileFaceNetUnits({ ...PAPER, input_size: 100 }),
    (error: Error) =>
      error instanceof RangeError &&
      error.message.includes("multiple of 16, got 100"),
  );
});
