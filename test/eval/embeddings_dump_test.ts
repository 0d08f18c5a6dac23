import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type EmbeddingsDump,
  evaluateEmbeddingsDump,
  readEmbeddingsDump,
  writeEmbeddingsDump,
} from "../../src/eval/embeddings_dump.ts";
import type { ProtocolOptions } from "../../src/eval/protocol.ts";
import { InputError } from "../../src/errors.ts";
import { sha256File } from "../../src/hash.ts";
import { writeSafetensors } from "../../src/safetensors.ts";
import { goldenEmbeddings } from "./_golden_embeddings.ts";

const LFW_PROTOCOL: ProtocolOptions = {
  folds: 10,
  thresholdMax: 4,
  thresholdStep: 0.01,
  farTarget: 1e-3,
};

async function withTempDir(body: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("goldenEmbeddings writes the file the literals describe", async () => {
  // A changed generator or writer would leave the literals below describing
  // another file, so the file itself is pinned.
  await withTempDir(async (dir) => {
    const path = join(dir, "golden.safetensors");
    await writeEmbeddingsDump(path, goldenEmbeddings());
    assert.equal(
      await sha256File(path),
      "c960705496a5a625b12b8a321fbd71498e200609a4a702d52cf0dd41d3ea3e20",
    );
  });
});

Deno.test("evaluateEmbeddingsDump matches numpy and scikit-learn", async () => {
  // The literals were printed by test/eval/golden_metrics.py (numpy 1.24,
  // scipy 1.10, scikit-learn 1.2 on Debian 12), run once by hand on the file
  // that test/eval/write_golden_embeddings.ts writes; see that script's
  // docstring. Every value is equal to the printed digits except the EER,
  // which brentq finds to about 1e-15.
  await withTempDir(async (dir) => {
    const path = join(dir, "golden.safetensors");
    await writeEmbeddingsDump(path, goldenEmbeddings());
    const { metrics } = evaluateEmbeddingsDump(
      await readEmbeddingsDump(path),
      LFW_PROTOCOL,
    );
    assert.deepEqual(metrics.fold_accuracies, [
      0.8583333333333333,
      0.84,
      0.8366666666666667,
      0.8666666666666667,
      0.855,
      0.8333333333333334,
      0.8583333333333333,
      0.8233333333333334,
      0.8666666666666667,
      0.8433333333333334,
    ]);
    assert.equal(metrics.pairs, 6000);
    assert.equal(metrics.folds, 10);
    assert.equal(metrics.accuracy_mean, 0.8481666666666667);
    assert.equal(metrics.accuracy_std, 0.014131328474154301);
    assert.equal(metrics.threshold_mean, 1.2739999999999998);
    assert.equal(metrics["val_at_far_1e-3"], 0.19033333333333333);
    assert.equal(metrics.auc, 0.9258085555555555);
    assert.ok(
      Math.abs(metrics.eer - 0.15033333333333226) < 1e-14,
      `eer ${metrics.eer}`,
    );
    // 2,700 different-person pairs per split are too few for FAR 1e-4.
    assert.ok(!("val_at_far_1e-4" in metrics));
    // The file carries no flip metadata, so the metrics leave it out.
    assert.ok(!("flip" in metrics));
  });
});

Deno.test("evaluateEmbeddingsDump takes the smallest tied threshold", () => {
  // Unit vectors at angle a have squared distance 2 - 2 cos(a). Training
  // fold 1 contains same 0.1, different 0.3, same 0.5, different 0.8 (rounded
  // distances): 3 of 4 correct for thresholds in (0.1, 0.3] and again in
  // (0.5, 0.8]. The first, 0.11, is chosen for held-out fold 0.
  const distances = [0.2, 0.4, 0.6, 0.9, 0.1, 0.5, 0.3, 0.8];
  const issame = [1, 1, 0, 0, 1, 1, 0, 0];
  const embeddings1 = new Float32Array(16);
  const embeddings2 = new Float32Array(16);
  distances.forEach((distance, p) => {
    const cosine = 1 - distance / 2;
    embeddings1.set([1, 0], 2 * p);
    embeddings2.set([cosine, Math.sqrt(1 - cosine * cosine)], 2 * p);
  });
  const { result } = evaluateEmbeddingsDump({
    embeddings1,
    embeddings2,
    issame: Uint8Array.from(issame),
    pairs: 8,
    dim: 2,
  }, { ...LFW_PROTOCOL, folds: 2 });
  assert.equal(result.foldThresholds[0], 0.11);
});

Deno.test("writeEmbeddingsDump round-trips tensors and flip", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "sub", "set.safetensors");
    const dump: EmbeddingsDump = {
      embeddings1: Float32Array.from([1, 0, 0, 1, 0.6, 0.8]),
      embeddings2: Float32Array.from([0, 1, 1, 0, 0.8, 0.6]),
      issame: Uint8Array.from([1, 0, 1]),
      pairs: 3,
      dim: 2,
      flip: true,
    };
    await writeEmbeddingsDump(path, dump);
    assert.deepEqual(await readEmbeddingsDump(path), dump);
    await writeEmbeddingsDump(path, { ...dump, flip: false });
    assert.equal((await readEmbeddingsDump(path)).flip, false);
  });
});

Deno.test("evaluateEmbeddingsDump records flip when known", () => {
  const dump = goldenEmbeddings();
  const { metrics } = evaluateEmbeddingsDump(
    { ...dump, flip: true },
    LFW_PROTOCOL,
  );
  assert.equal(metrics.flip, true);
});

Deno.test("writeEmbeddingsDump rejects a wrong length", async () => {
  await assert.rejects(
    writeEmbeddingsDump("/nonexistent/x.safetensors", {
      embeddings1: new Float32Array(6),
      embeddings2: new Float32Array(4),
      issame: new Uint8Array(3),
      pairs: 3,
      dim: 2,
    }),
    (error: unknown) =>
      error instanceof TypeError &&
      error.message ===
        'Cannot write embeddings "/nonexistent/x.safetensors": embeddings2 has 4 values, expected 3 x 2',
  );
});

/** Writes a file with the given tensors and checks the read error. */
async function assertReadError(
  arrays: Parameters<typeof writeSafetensors>[1],
  message: RegExp,
): Promise<void> {
  await withTempDir(async (dir) => {
    const path = join(dir, "bad.safetensors");
    await writeSafetensors(path, arrays);
    await assert.rejects(readEmbeddingsDump(path), (error: unknown) => {
      assert.ok(error instanceof SyntaxError, `wrong class: ${error}`);
      assert.ok(
        error.message.startsWith(`Cannot read embeddings "${path}": `),
        error.message,
      );
      assert.match(error.message, message);
      return true;
    });
  });
}

const GOOD = {
  embeddings1: {
    name: "embeddings1",
    shape: [2, 2],
    data: new Float32Array(4),
  },
  embeddings2: {
    name: "embeddings2",
    shape: [2, 2],
    data: new Float32Array(4),
  },
  issame: { name: "issame", shape: [2], data: Uint8Array.from([1, 0]) },
};

Deno.test("readEmbeddingsDump names a missing tensor", async () => {
  await assertReadError(
    [GOOD.embeddings1, GOOD.issame],
    /tensor "embeddings2" is missing/,
  );
});

Deno.test("readEmbeddingsDump names a wrong dtype", async () => {
  await assertReadError(
    [
      GOOD.embeddings1,
      GOOD.embeddings2,
      { name: "issame", shape: [2], data: Int32Array.from([1, 0]) },
    ],
    /tensor "issame" has dtype I32, expected U8/,
  );
});

Deno.test("readEmbeddingsDump names a wrong rank", async () => {
  await assertReadError(
    [
      { name: "embeddings1", shape: [4], data: new Float32Array(4) },
      GOOD.embeddings2,
      GOOD.issame,
    ],
    /tensor "embeddings1" has shape \[4\], expected rank 2/,
  );
});

Deno.test("readEmbeddingsDump names mismatched shapes", async () => {
  await assertReadError(
    [
      GOOD.embeddings1,
      { name: "embeddings2", shape: [1, 4], data: new Float32Array(4) },
      GOOD.issame,
    ],
    /embeddings2 has shape \[1, 4\] but embeddings1 has \[2, 2\]/,
  );
  await assertReadError(
    [
      GOOD.embeddings1,
      GOOD.embeddings2,
      { name: "issame", shape: [3], data: Uint8Array.from([1, 0, 1]) },
    ],
    /issame has shape \[3\] but there are 2 pairs/,
  );
});

Deno.test("readEmbeddingsDump rejects a label other than 0 or 1", async () => {
  await assertReadError(
    [
      GOOD.embeddings1,
      GOOD.embeddings2,
      { name: "issame", shape: [2], data: Uint8Array.from([1, 2]) },
    ],
    /issame\[1\] is 2, expected 0 or 1/,
  );
});

Deno.test("readEmbeddingsDump names a missing file", async () => {
  await assert.rejects(
    readEmbeddingsDump("/nonexistent/set.safetensors"),
    (error: unknown) =>
      error instanceof InputError &&
      error.message.startsWith(
        'Cannot read embeddings "/nonexistent/set.safetensors": file not found',
      ),
  );
});
