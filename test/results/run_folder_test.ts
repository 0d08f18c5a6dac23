import assert from "node:assert/strict";
import {
  createRunFolder,
  defaultRunId,
  RunExistsError,
  runTimestamp,
} from "../../src/results/run_folder.ts";

Deno.test("runTimestamp formats UTC as yyyymmddThhmmssZ", () => {
  assert.equal(
    runTimestamp(new Date("2026-12-04T16:26:39.123Z")),
    "20261204T162639Z",
  );
});

Deno.test("defaultRunId joins time, profile and config hash", () => {
  const id = defaultRunId(
    new Date("2026-01-02T03:04:05Z"),
    "smoke",
    "abcdef0123456789",
  );
  assert.equal(id, "20260102T030405Z-smoke-abcdef01");
});

Deno.test("createRunFolder refuses an existing run folder", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await createRunFolder(dir, "run-1");
    await Deno.writeTextFile(`${dir}/run-1/metrics.json`, "{}");
    await assert.rejects(
      createRunFolder(dir, "run-1"),
      (error: Error) =>
        error instanceof RunExistsError &&
        error.message.includes(`"${dir}/run-1": it already exists`),
    );
    assert.equal(await Deno.readTextFile(`${dir}/run-1/metrics.json`), "{}");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("createRunFolder lets one of two concurrent runs proceed", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const results = await Promise.allSettled([
      createRunFolder(dir, "same"),
      createRunFolder(dir, "same"),
    ]);
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
    assert.equal(results.filter((r) => r.status === "rejected").length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("createRunFolder rejects a run id with a slash", async () => {
  await assert.rejects(
    createRunFolder("results", "../escape"),
    (error: Error) =>
      error instanceof RangeError &&
      error.message.includes('Invalid run id "../escape"'),
  );
});
