/**
 * A dataset build as its own process, for the kill-and-resume test:
 * `deno run ... _build_dataset.ts ROOT OUT_DIR WORKERS`. Human lines go to
 * stderr.
 */
import { buildDataset } from "../../src/data/build.ts";
import { stderrWriter } from "../../src/progress.ts";
import { createReporter } from "../../src/report.ts";
import { testDatasetConfig } from "../data/_helpers.ts";

const [root, outDir, workers] = Deno.args;
await buildDataset(
  testDatasetConfig({ roots: [{ path: root, prefix: "", identities: null }] }),
  {
    seed: 11,
    outDir,
    workers: Number(workers),
    reporter: createReporter({ writer: stderrWriter }),
  },
);
