import assert from "node:assert/strict";
import { mapPool } from "../../src/data/_pool.ts";

Deno.test("mapPool keeps input order", async () => {
  // Later items finish first; results still follow the input.
  const results = await mapPool([30, 10, 20, 0], 3, async (delay, index) => {
    await new Promise((resolve) => setTimeout(resolve, delay));
    return index * 10;
  });
  assert.deepEqual(results, [0, 10, 20, 30]);
});

Deno.test("mapPool bounds work in flight", async () => {
  let running = 0;
  let peak = 0;
  await mapPool(Array.from({ length: 10 }), 2, async () => {
    running++;
    peak = Math.max(peak, running);
    await new Promise((resolve) => setTimeout(resolve, 1));
    running--;
  });
  assert.equal(peak, 2);
});

Deno.test("mapPool stops after an error", async () => {
  const started: number[] = [];
  await assert.rejects(
    mapPool([0, 1, 2, 3, 4], 1, async (item) => {
      started.push(item);
      if (item === 1) throw new Error("item 1 failed");
      await Promise.resolve();
    }),
    { message: "item 1 failed" },
  );
  assert.deepEqual(started, [0, 1]);
});

Deno.test("mapPool returns empty for no items", async () => {
  assert.deepEqual(await mapPool([], 4, () => Promise.resolve(1)), []);
});

Deno.test("mapPool settles calls in flight before it rejects", async () => {
  let finished = 0;
  await assert.rejects(
    mapPool([0, 1, 2], 3, async (item) => {
      if (item === 0) throw new Error("item 0 failed");
      await new Promise((resolve) => setTimeout(resolve, 20));
      finished++;
    }),
    { message: "item 0 failed" },
  );
  assert.equal(finished, 2);
});
