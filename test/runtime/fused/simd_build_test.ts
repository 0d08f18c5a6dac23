import assert from "node:assert/strict";
import { join } from "node:path";

const SIMD = new URL("../../../src/runtime/fused/simd/", import.meta.url);
const TOOLS = ["clang", "wasm-ld", "wasm-objdump"];

/** Returns the tools of build.sh that are not on PATH. */
async function missingTools(): Promise<string[]> {
  const missing: string[] = [];
  for (const tool of TOOLS) {
    const { code } = await new Deno.Command("bash", {
      args: ["-c", `command -v ${tool}`],
      stdout: "null",
      stderr: "null",
    }).output();
    if (code !== 0) missing.push(tool);
  }
  return missing;
}

const missing = await missingTools();
if (missing.length > 0) {
  console.warn(
    `skipping the SIMD rebuild check: ${
      missing.join(", ")
    } not on PATH (apt-get install clang lld wabt)`,
  );
}

Deno.test({
  name: "committed SIMD modules match build.sh",
  ignore: missing.length > 0,
  fn: async () => {
    const folder = await Deno.makeTempDir({ prefix: "simd-build-" });
    try {
      const { code, stderr } = await new Deno.Command("bash", {
        args: [new URL("build.sh", SIMD).pathname, folder],
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.equal(code, 0, new TextDecoder().decode(stderr));
      for (const file of ["loops.wasm", "loops_shared.wasm"]) {
        const built = await Deno.readFile(join(folder, file));
        const committed = await Deno.readFile(new URL(file, SIMD));
        assert.ok(
          built.length === committed.length &&
            built.every((byte, i) => byte === committed[i]),
          `src/runtime/fused/simd/${file} differs from a build of loops.c: run src/runtime/fused/simd/build.sh and commit the result`,
        );
      }
    } finally {
      await Deno.remove(folder, { recursive: true });
    }
  },
});
