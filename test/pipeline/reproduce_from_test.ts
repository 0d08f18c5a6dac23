import assert from "node:assert/strict";
import { join } from "node:path";
import {
  canonicalJson,
  configToYaml,
  loadConfig,
} from "../../src/config/load.ts";
import { InputError } from "../../src/errors.ts";
import { sha256Hex } from "../../src/hash.ts";
import { loadRunConfig } from "../../src/pipeline/reproduce_from.ts";

const CONFIGS = new URL("../../configs/", import.meta.url).pathname;

/** Writes the config.yaml and provenance.json a smoke run starts with. */
async function savedRun(dir: string): Promise<string> {
  const resolved = await loadConfig(join(CONFIGS, "smoke.yaml"));
  await Deno.writeTextFile(
    join(dir, "config.yaml"),
    configToYaml(resolved.config),
  );
  await Deno.writeTextFile(
    join(dir, "provenance.json"),
    JSON.stringify({
      run_id: "source-run",
      profile: "smoke",
      config_sha256: resolved.sha256,
    }),
  );
  return resolved.sha256;
}

Deno.test("loadRunConfig returns the saved config", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const sha256 = await savedRun(dir);
    const { resolved, sourceRunId } = await loadRunConfig(dir);
    assert.equal(sourceRunId, "source-run");
    assert.equal(resolved.profile, "smoke");
    assert.equal(resolved.sha256, sha256);
    assert.equal(resolved.config.seed, 20180419);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadRunConfig applies a backend override", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const sha256 = await savedRun(dir);
    const { resolved } = await loadRunConfig(dir, ["runtime.backend=cpu"]);
    assert.equal(resolved.config.runtime.backend, "cpu");
    assert.notEqual(resolved.sha256, sha256);
    assert.equal(
      resolved.sha256,
      await sha256Hex(canonicalJson(resolved.config)),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadRunConfig rejects an edited config", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const sha256 = await savedRun(dir);
    const path = join(dir, "config.yaml");
    const text = await Deno.readTextFile(path);
    await Deno.writeTextFile(path, text.replace("seed: 20180419", "seed: 1"));
    await assert.rejects(
      loadRunConfig(dir),
      (error: Error) =>
        error instanceof InputError &&
        error.message.includes(`provenance.json records ${sha256}`) &&
        error.message.includes("the config was edited after the run"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadRunConfig names a folder without config", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      loadRunConfig(dir),
      (error: Error) =>
        error instanceof InputError &&
        error.message ===
          `Cannot reproduce "${dir}": "${
            join(dir, "config.yaml")
          }" not found: pass a run folder made by deno task reproduce`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
