/**
 * Throughput of the pretrained networks on the wasm backend: MTCNN detection
 * plus alignment of every face on the group photos, and embeddings of the
 * imported MobileFaceNet at 112x112 with the flip test. Each prints images
 * per second once, then `deno bench` times it.
 *
 * Needs `deno task assets` and the shared photos beside the repository; the
 * cases are skipped with a message otherwise.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { loadConfig } from "../src/config/load.ts";
import { decodeImage, type RawImage } from "../src/data/image.ts";
import { alignFace } from "../src/detect/align.ts";
import { detectFaces } from "../src/detect/mtcnn.ts";
import { embedImages } from "../src/eval/embeddings.ts";
import { mtcnnOptions } from "../src/pretrained/aligner.ts";
import { assetPaths, assetProblems } from "../src/pretrained/assets.ts";
import { loadPretrainedMobileFaceNet } from "../src/pretrained/mobilefacenet.ts";
import { TfliteMtcnn } from "../src/pretrained/mtcnn.ts";
import { selectBackend } from "../src/runtime/backend.ts";

const GROUP = "../shared/data/faceapi/group";
const ASSETS = "cache/assets";
/** Faces embedded per call, as in evaluation. */
const EMBED_BATCH = 64;

tf.env().set("IS_TEST", true);
const problems = await assetProblems(ASSETS);
const photos: RawImage[] = [];
try {
  for (let k = 1; k <= 5; k++) {
    photos.push(await decodeImage(join(GROUP, `bbt${k}.jpg`)));
  }
} catch {
  // Absent shared data: reported below.
}

if (problems.length > 0 || photos.length < 5) {
  console.log(
    `pretrained bench: skipped: ${
      problems[0] ?? `${GROUP} not found`
    } (run \`deno task assets\`; the shared photos sit beside the repository)`,
  );
} else {
  const backend = await selectBackend({ backend: "wasm", threads: 0 }, "infer");
  const paths = assetPaths(ASSETS);
  const nets = await TfliteMtcnn.load(paths);
  const model = await loadPretrainedMobileFaceNet(paths.mobilefacenet);
  const { config } = await loadConfig("configs/smoke.yaml", []);
  const options = mtcnnOptions(config.mtcnn);

  const detectAll = async () => {
    let faces = 0;
    for (const photo of photos) {
      for (const face of await detectFaces(photo, nets, options)) {
        alignFace(photo, face.landmarks, 112);
        faces++;
      }
    }
    return faces;
  };
  const faces = EMBED_BATCH;
  const crops = new Uint8Array(faces * 112 * 112 * 3);
  for (let i = 0; i < crops.length; i++) crops[i] = (i * 37) % 251;
  const embedAll = () =>
    embedImages(
      crops,
      faces,
      112,
      (batch) => model.apply(batch, false).embeddings,
      { batchSize: EMBED_BATCH, flip: true },
    );

  // One warm-up call each, then one timed call for the images-per-second line.
  await detectAll();
  let start = performance.now();
  const found = await detectAll();
  const detectSeconds = (performance.now() - start) / 1000;
  await embedAll();
  start = performance.now();
  await embedAll();
  const embedSeconds = (performance.now() - start) / 1000;
  console.log(
    `pretrained bench (${backend.name}, ${
      backend.threads ?? 1
    } threads): MTCNN detection + alignment ${
      (photos.length / detectSeconds).toFixed(2)
    } photos/s (${found} faces in ${photos.length} group photos, ${
      (found / detectSeconds).toFixed(1)
    } faces/s); MobileFaceNet embeddings with flip ${
      (faces / embedSeconds).toFixed(1)
    } faces/s at batch ${EMBED_BATCH}`,
  );

  Deno.bench({
    name: "MTCNN detection + alignment, 5 group photos",
    n: 3,
    warmup: 1,
    async fn() {
      await detectAll();
    },
  });
  Deno.bench({
    name: `pretrained MobileFaceNet, ${faces} faces with flip`,
    n: 3,
    warmup: 1,
    async fn() {
      await embedAll();
    },
  });
}
