import assert from "node:assert/strict";
import { join } from "node:path";
import { readTrainLog } from "../../src/pipeline/train_stage.ts";

const RECORD =
  '{"step":2,"epoch":0,"lr":0.1,"loss":7,"accuracy":0,"images_per_second":9}';

async function withLog(text: string, body: (path: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "robustness_" });
  try {
    const path = join(dir, "train.jsonl");
    await Deno.writeTextFile(path, text);
    await body(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("readTrainLog drops a record cut off mid-write", async () => {
  await withLog(`${RECORD}\n{"step":4,"epo`, async (path) => {
    const records = await readTrainLog(path);
    assert.equal(records.length, 1);
    assert.equal(records[0].step, 2);
  });
});

Deno.test("readTrainLog rejects a broken complete line", async () => {
  await withLog(`${RECORD}\n{"step":4,"epo\n${RECORD}\n`, async (path) => {
    await assert.rejects(
      readTrainLog(path),
      (error: Error) =>
        error instanceof SyntaxError &&
        error.message ===
          `Cannot parse "${path}" line 2: not JSON: {"step":4,"epo`,
    );
  });
});
