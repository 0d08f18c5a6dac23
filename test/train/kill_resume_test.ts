/**
 * A training process killed with SIGKILL and resumed with --resume ends
 * with the same weights as an uninterrupted run (cpu backend).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { tinySmokeSettings } from "../_tiny_smoke.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

function trainArgs(dir: string, runId: string, resume: boolean): string[] {
  const base = [
    "run",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    "--allow-sys",
    "--allow-ffi",
    "--allow-run=git",
    join(ROOT, "tasks/train.ts"),
    "--results-dir",
    join(dir, "results"),
    "--run-id",
    runId,
  ];
  if (resume) return [...base, "--resume"];
  const settings = [
    ...tinySmokeSettings(join(dir, "cache")),
    "train.steps=24",
    "train.lr_milestones=[12]",
    "train.warmup_steps=2",
    "train.checkpoint_every=4",
    "train.log_every=2",
  ];
  return [
    ...base,
    "--profile",
    "smoke",
    ...settings.flatMap((s) => ["--set", s]),
  ];
}

async function runToEnd(args: string[]): Promise<void> {
  const output = await new Deno.Command("deno", {
    args,
    cwd: ROOT,
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
}

Deno.test("train killed with SIGKILL resumes to the same weights", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await runToEnd(trainArgs(dir, "straight", false));

    // Kill the second run as soon as its first checkpoint exists.
    const child = new Deno.Command("deno", {
      args: trainArgs(dir, "killed", false),
      cwd: ROOT,
      stdout: "null",
      stderr: "null",
    }).spawn();
    const checkpoints = join(dir, "results/killed/artifacts/checkpoints");
    const deadline = Date.now() + 120_000;
    let found = false;
    while (!found && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      try {
        for await (const entry of Deno.readDir(checkpoints)) {
          if (entry.name.endsWith(".safetensors")) found = true;
        }
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    }
    child.kill("SIGKILL");
    const status = await child.status;
    assert.ok(found, "no checkpoint appeared within 120 s");
    assert.equal(
      status.signal,
      "SIGKILL",
      "the run finished before it could be killed",
    );

    await runToEnd(trainArgs(dir, "killed", true));
    const straight = await Deno.readFile(
      join(dir, "results/straight/artifacts/model.safetensors"),
    );
    const resumed = await Deno.readFile(
      join(dir, "results/killed/artifacts/model.safetensors"),
    );
    assert.equal(resumed.length, straight.length);
    assert.ok(
      resumed.every((byte, i) => byte === straight[i]),
      "weights differ after the resume",
    );

    const log =
      (await Deno.readTextFile(join(dir, "results/killed/train.jsonl"))).trim()
        .split("\n");
    const steps = log.map((line) => JSON.parse(line).step);
    assert.deepEqual(steps, [2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
