import assert from "node:assert/strict";
import { join } from "node:path";
import {
  applyOverride,
  canonicalJson,
  loadConfig,
  mergeConfig,
} from "../../src/config/load.ts";
import { ConfigError } from "../../src/config/validate.ts";

const CONFIGS = new URL("../../configs/", import.meta.url).pathname;

async function withProfile(
  text: string,
  body: (path: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.copyFile(
      join(CONFIGS, "defaults.yaml"),
      join(dir, "defaults.yaml"),
    );
    const path = join(dir, "custom.yaml");
    await Deno.writeTextFile(path, text);
    await body(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("loadConfig resolves every shipped profile", async () => {
  for (const profile of ["paper", "smoke", "att"]) {
    const resolved = await loadConfig(join(CONFIGS, `${profile}.yaml`));
    assert.equal(resolved.profile, profile);
    assert.match(resolved.sha256, /^[0-9a-f]{64}$/);
  }
});

Deno.test("loadConfig keeps the paper's training settings", async () => {
  const { config } = await loadConfig(join(CONFIGS, "paper.yaml"));
  assert.equal(config.train.batch_size, 512);
  assert.equal(config.train.steps, 60000);
  assert.deepEqual(config.train.lr_milestones, [36000, 52000, 58000]);
  assert.equal(config.train.weight_decay, 4e-5);
  assert.equal(config.train.head_weight_decay, 4e-4);
  assert.equal(config.loss.scale, 64);
  assert.equal(config.loss.margin, 0.5);
  assert.equal(config.model.embedding_size, 128);
});

Deno.test("loadConfig rejects an unknown key with its path", async () => {
  await withProfile("train:\n  stepz: 10\n", async (path) => {
    await assert.rejects(
      loadConfig(path),
      (error: Error) =>
        error instanceof ConfigError &&
        error.message.startsWith(
          `Invalid config key "train.stepz" in "${path}": unknown key`,
        ),
    );
  });
});

Deno.test("loadConfig rejects a wrong type", async () => {
  await withProfile("loss:\n  scale: big\n", async (path) => {
    await assert.rejects(
      loadConfig(path),
      (error: Error) =>
        error instanceof ConfigError &&
        error.message.includes('"loss.scale"') &&
        error.message.includes('expected a finite number, got "big"'),
    );
  });
});

Deno.test("loadConfig rejects a zero scale", async () => {
  await withProfile("loss:\n  scale: 0\n", async (path) => {
    await assert.rejects(
      loadConfig(path),
      (error: Error) =>
        error instanceof ConfigError &&
        error.message.includes("expected a value > 0, got 0"),
    );
  });
});

Deno.test("loadConfig rejects thresholds out of order", async () => {
  await withProfile(
    "dataset:\n  rules:\n    keep_above: 400\n",
    async (path) => {
      await assert.rejects(
        loadConfig(path),
        (error: Error) =>
          error instanceof ConfigError && error.key === "dataset.rules" &&
          error.message.includes(
            "noised_above < opened_above < keep_above < sample_above",
          ),
      );
    },
  );
});

Deno.test("loadConfig rejects a micro-batch that does not divide the batch", async () => {
  await withProfile("train:\n  micro_batch_size: 100\n", async (path) => {
    await assert.rejects(
      loadConfig(path),
      (error: Error) =>
        error instanceof ConfigError &&
        error.key === "train.micro_batch_size" &&
        error.message.includes(
          "expected a divisor of train.batch_size (512), got 100",
        ),
    );
  });
});

Deno.test("loadConfig rejects a milestone past the end", async () => {
  await assert.rejects(
    loadConfig(join(CONFIGS, "paper.yaml"), ["train.steps=1000"]),
    (error: Error) =>
      error instanceof ConfigError && error.key === "train.lr_milestones[0]" &&
      error.message.includes(
        "expected a step below train.steps (1000), got 36000",
      ),
  );
});

Deno.test("loadConfig applies --set after the profile", async () => {
  const { config, overrides } = await loadConfig(join(CONFIGS, "smoke.yaml"), [
    "train.steps=50",
    "train.lr_milestones=[]",
  ]);
  assert.equal(config.train.steps, 50);
  assert.deepEqual(overrides, ["train.steps=50", "train.lr_milestones=[]"]);
});

Deno.test("loadConfig names a missing profile file", async () => {
  await assert.rejects(
    loadConfig(join(CONFIGS, "nope.yaml")),
    (error: Error) =>
      error instanceof ConfigError &&
      error.message.includes('nope.yaml" not found'),
  );
});

Deno.test("applyOverride sets a list item field", () => {
  const config = { eval: { sets: [{ name: "a", root: "x" }] } };
  const result = applyOverride(
    config,
    "eval.sets[0].root=/data/lfw",
  ) as typeof config;
  assert.equal(result.eval.sets[0].root, "/data/lfw");
  assert.equal(config.eval.sets[0].root, "x");
});

Deno.test("applyOverride rejects a missing equals sign", () => {
  assert.throws(
    () => applyOverride({}, "train.steps"),
    (error: Error) =>
      error instanceof ConfigError &&
      error.message.includes("expected key=value"),
  );
});

Deno.test("mergeConfig merges mappings and replaces lists", () => {
  const merged = mergeConfig({ a: { b: 1, c: [1, 2] } }, { a: { c: [3] } });
  assert.deepEqual(merged, { a: { b: 1, c: [3] } });
});

Deno.test("canonicalJson sorts keys", () => {
  assert.equal(
    canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] }),
    '{"a":[{"c":3,"d":2}],"b":1}',
  );
});

Deno.test("loadConfig accepts an evaluation set from a .bin file", async () => {
  const text = "dataset:\n  roots: [{ path: data/faces }]\n" +
    "eval:\n  sets:\n    - name: lfw\n      bin: data/lfw.bin\n";
  await withProfile(text, async (path) => {
    const { config } = await loadConfig(path);
    assert.equal(config.eval.sets[0].bin, "data/lfw.bin");
    assert.equal(config.eval.sets[0].root, null);
    assert.equal(config.eval.sets[0].synthetic, false);
  });
});

Deno.test("loadConfig rejects a set with root and bin", async () => {
  const text =
    "eval:\n  sets:\n    - name: lfw\n      root: data/lfw\n      bin: data/lfw.bin\n";
  await withProfile(text, async (path) => {
    await assert.rejects(loadConfig(path), (error: Error) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.key, "eval.sets[0]");
      assert.equal(
        error.message,
        `Invalid config key "eval.sets[0]" in "${path}": expected exactly one of root (with pairs), make_pairs, synthetic: true or bin, got root and bin`,
      );
      return true;
    });
  });
});

Deno.test("loadConfig rejects a set of no kind", async () => {
  await withProfile("eval:\n  sets:\n    - name: lfw\n", async (path) => {
    await assert.rejects(
      loadConfig(path),
      (error: Error) =>
        error instanceof ConfigError &&
        error.message.endsWith("synthetic: true or bin, got none"),
    );
  });
});

Deno.test("loadConfig rejects pairs without root", async () => {
  const text =
    "eval:\n  sets:\n    - name: lfw\n      bin: lfw.bin\n      pairs: pairs.txt\n";
  await withProfile(text, async (path) => {
    await assert.rejects(
      loadConfig(path),
      (error: Error) =>
        error instanceof ConfigError &&
        error.key === "eval.sets[0].pairs" &&
        error.message.includes("a pairs file needs root"),
    );
  });
});

Deno.test("loadConfig reads a root without format as folders", async () => {
  await withProfile(
    "dataset:\n  roots: [{ path: data/faces }]\n",
    async (path) => {
      const { config } = await loadConfig(path);
      assert.equal(config.dataset.roots[0].format, "folders");
    },
  );
});

Deno.test("loadConfig reads the paper profile's Trillion Pairs root", async () => {
  const { config } = await loadConfig(join(CONFIGS, "paper.yaml"));
  assert.deepEqual(config.dataset.roots, [{
    path: "data/trillion_pairs",
    format: "trillion_pairs",
    prefix: "",
    identities: null,
  }]);
});

Deno.test("loadConfig rejects an unknown root format", async () => {
  const text = "dataset:\n  roots:\n    - path: data/a\n" +
    "    - path: data/b.tar\n      format: tar\n";
  await withProfile(text, async (path) => {
    await assert.rejects(loadConfig(path), (error: Error) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.key, "dataset.roots[1].format");
      assert.equal(
        error.message,
        `Invalid config key "dataset.roots[1].format" in "${path}": expected one of folders, trillion_pairs, recordio, got "tar"`,
      );
      return true;
    });
  });
});

Deno.test("loadConfig rejects a recordio path without .rec", async () => {
  const text =
    "dataset:\n  roots:\n    - path: data/faces_emore\n      format: recordio\n";
  await withProfile(text, async (path) => {
    await assert.rejects(loadConfig(path), (error: Error) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.key, "dataset.roots[0].path");
      assert.equal(
        error.message,
        `Invalid config key "dataset.roots[0].path" in "${path}": expected the path of a .rec file for format recordio (its .idx lies beside it), got "data/faces_emore"`,
      );
      return true;
    });
  });
  const valid =
    "dataset:\n  roots:\n    - path: data/faces_emore/train.rec\n      format: recordio\n";
  await withProfile(valid, async (path) => {
    const { config } = await loadConfig(path);
    assert.equal(config.dataset.roots[0].format, "recordio");
  });
});
