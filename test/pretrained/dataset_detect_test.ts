import assert from "node:assert/strict";
import { join } from "node:path";
import { loadConfig } from "../../src/config/load.ts";
import { buildDataset } from "../../src/data/build.ts";
import { encodePng } from "../../src/data/image.ts";
import { testDatasetConfig, withTempDir } from "../data/_helpers.ts";
import { pretrainedPaths } from "../_assets.ts";

const ASSETS_DIR = new URL("../../cache/assets", import.meta.url).pathname;

const IDENTITIES = new URL(
  "../../../shared/data/faceapi/identities",
  import.meta.url,
).pathname;
const paths = await pretrainedPaths("dataset detection");
const hasData = await Deno.stat(IDENTITIES).then(() => true, () => false);
if (!hasData) {
  console.log(
    `dataset detection: skipping: ${IDENTITIES} not found (the shared test data sits beside the repository)`,
  );
}

Deno.test({
  name: "buildDataset crops faces in two workers and lists a miss",
  ignore: paths === null || !hasData,
  async fn() {
    await withTempDir(async (dir) => {
      // Two people, plus a flat grey image in the first person's folder.
      const root = join(dir, "source");
      for (const person of ["amy", "raj"]) {
        await Deno.mkdir(join(root, person), { recursive: true });
        for await (const file of Deno.readDir(join(IDENTITIES, person))) {
          await Deno.copyFile(
            join(IDENTITIES, person, file.name),
            join(root, person, file.name),
          );
        }
      }
      const blank = join(root, "amy", "blank.png");
      await Deno.writeFile(
        blank,
        await encodePng({
          data: new Uint8Array(150 * 150 * 3).fill(128),
          width: 150,
          height: 150,
          channels: 3,
        }),
      );
      const { config } = await loadConfig("configs/smoke.yaml", [
        "mtcnn.border=0.25",
      ]);
      // Each worker loads its own aligner on the wasm backend.
      const summary = await buildDataset(
        testDatasetConfig({
          roots: [{ path: root, prefix: "", identities: null }],
          image_size: 64,
          detect: "mtcnn",
          // Keep every image as it is.
          rules: {
            sample_above: 20,
            keep_above: 1,
            opened_above: 0,
            noised_above: -1,
          },
        }),
        {
          seed: 1,
          outDir: join(dir, "out"),
          workers: 2,
          detection: { assetsDir: ASSETS_DIR, mtcnn: config.mtcnn },
        },
      );
      assert.deepEqual(summary.no_face, [blank]);
      assert.deepEqual(summary.unreadable, []);
      assert.equal(summary.images_in, 11);
      assert.equal(summary.images_out, 10);
      assert.equal(summary.identities_kept, 2);
    });
  },
});
