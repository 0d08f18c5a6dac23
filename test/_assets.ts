/**
 * Locates the pretrained weights for tests: the files `deno task assets`
 * writes under cache/assets, or null (with one line saying why the tests
 * that need them skip).
 */

import { assetPaths, assetProblems } from "../src/pretrained/assets.ts";

const ASSETS_DIR = new URL("../cache/assets", import.meta.url).pathname;

export async function pretrainedPaths(
  suite: string,
): Promise<ReturnType<typeof assetPaths> | null> {
  const problems = await assetProblems(ASSETS_DIR);
  if (problems.length > 0) {
    console.log(
      `${suite}: skipping the tests on the pretrained weights: ${
        problems[0]
      }; run \`deno task assets\` to fetch them`,
    );
    return null;
  }
  return assetPaths(ASSETS_DIR);
}
