import assert from "node:assert/strict";
import { join } from "node:path";
import type { MtcnnConfig } from "../../src/config/types.ts";
import { decodeImage } from "../../src/data/image.ts";
import { embedImages } from "../../src/eval/embeddings.ts";
import { FaceAligner, mtcnnOptions } from "../../src/pretrained/aligner.ts";
import { detectFaces } from "../../src/detect/mtcnn.ts";
import { loadPretrainedMobileFaceNet } from "../../src/pretrained/mobilefacenet.ts";
import { TfliteMtcnn } from "../../src/pretrained/mtcnn.ts";
import { loadConfig } from "../../src/config/load.ts";
import { selectBackend } from "../../src/runtime/backend.ts";
import { pretrainedPaths } from "../_assets.ts";

// The wasm backend detects and embeds about ten times faster than cpu.
await selectBackend({ backend: "wasm", threads: 0 }, "infer");

const IDENTITIES =
  new URL("../../../shared/data/faceapi/identities", import.meta.url)
    .pathname;
const GROUP =
  new URL("../../../shared/data/faceapi/group", import.meta.url).pathname;

const paths = await pretrainedPaths("pretrained faces");
const hasData = await Deno.stat(IDENTITIES).then(() => true, () => false);
if (!hasData) {
  console.log(
    `pretrained faces: skipping the real-face tests: ${IDENTITIES} not found (the shared test data sits beside the repository)`,
  );
}
const ready = paths !== null && hasData;

/** Reads the repository's MTCNN settings, with the border the tight crops need. */
async function mtcnnSettings(border: number): Promise<MtcnnConfig> {
  const { config } = await loadConfig("configs/smoke.yaml", []);
  return { ...config.mtcnn, border };
}

async function loadAligner(border: number): Promise<FaceAligner> {
  const nets = await TfliteMtcnn.load(paths!);
  return new FaceAligner(nets, await mtcnnSettings(border), 112);
}

/** Lists the 40 identity photos as [person, path], in name order. */
async function identityPhotos(): Promise<[string, string][]> {
  const photos: [string, string][] = [];
  for await (const person of Deno.readDir(IDENTITIES)) {
    for await (const file of Deno.readDir(join(IDENTITIES, person.name))) {
      photos.push([person.name, join(IDENTITIES, person.name, file.name)]);
    }
  }
  return photos.sort((a, b) => a[1].localeCompare(b[1]));
}

/** The aligned photos and their detections, computed once for both tests. */
let aligned: { person: string; image: Uint8Array }[] | null = null;

async function alignIdentities(): Promise<
  { person: string; image: Uint8Array }[]
> {
  if (aligned !== null) return aligned;
  const aligner = await loadAligner(0.25);
  const photos = await identityPhotos();
  assert.equal(photos.length, 40);
  aligned = [];
  for (const [person, path] of photos) {
    const { face, found, image } = await aligner.align(
      await decodeImage(path),
      path,
    );
    assert.equal(found, 1, `${path}: ${found} faces`);
    for (const [x, y] of face.landmarks) {
      assert.ok(
        x >= face.box.x1 && x <= face.box.x2 && y >= face.box.y1 &&
          y <= face.box.y2,
        `${path}: landmark (${x}, ${y}) outside its box`,
      );
    }
    aligned.push({ person, image: image.data });
  }
  aligner.dispose();
  return aligned;
}

Deno.test({
  name: "MTCNN finds one face per identity photo",
  ignore: !ready,
  async fn() {
    assert.equal((await alignIdentities()).length, 40);
  },
});

Deno.test({
  name: "pretrained MobileFaceNet verifies the identity photos",
  ignore: !ready,
  async fn() {
    const model = await loadPretrainedMobileFaceNet(paths!.mobilefacenet);
    const photos = await alignIdentities();
    const images = new Uint8Array(photos.length * 112 * 112 * 3);
    photos.forEach((photo, i) => images.set(photo.image, i * 112 * 112 * 3));
    const embeddings = await embedImages(
      images,
      photos.length,
      112,
      (batch) => model.apply(batch, false).embeddings,
      { batchSize: 20, flip: true },
    );

    const dim = 192;
    const same: number[] = [];
    const different: number[] = [];
    for (let i = 0; i < photos.length; i++) {
      for (let j = i + 1; j < photos.length; j++) {
        let cosine = 0;
        for (let d = 0; d < dim; d++) {
          cosine += embeddings[i * dim + d] * embeddings[j * dim + d];
        }
        (photos[i].person === photos[j].person ? same : different).push(cosine);
      }
    }
    assert.equal(same.length + different.length, 780);

    // Best single threshold over all pairs: accept a pair above it.
    const all = [...same.map((c) => [c, 1]), ...different.map((c) => [c, 0])]
      .sort((a, b) => a[0] - b[0]);
    // With the threshold below every cosine, every pair is called the same.
    let correct = same.length;
    let best = correct;
    for (const [, isSame] of all) {
      correct += isSame ? -1 : 1;
      best = Math.max(best, correct);
    }
    const accuracy = best / all.length;

    const mean = (values: number[]) =>
      values.reduce((a, b) => a + b, 0) / values.length;
    const gap = mean(same) - mean(different);
    console.log(
      `pretrained faces: best-threshold accuracy ${
        accuracy.toFixed(4)
      } over 780 pairs; mean cosine same ${mean(same).toFixed(3)}, different ${
        mean(different).toFixed(3)
      }`,
    );
    assert.ok(accuracy >= 0.95, `accuracy ${accuracy}`);
    assert.ok(gap >= 0.3, `same - different mean cosine ${gap}`);
    model.dispose();
  },
});

/**
 * Faces per group photo, counted by eye on renders with the boxes drawn:
 * every frontal face, plus a face cut by the left edge of bbt2.jpg.
 */
const GROUP_FACES: Record<string, number> = {
  "bbt1.jpg": 4,
  "bbt2.jpg": 3,
  "bbt3.jpg": 5,
  "bbt4.jpg": 6,
  "bbt5.jpg": 5,
};

Deno.test({
  name: "MTCNN finds every face of the group photos",
  ignore: !ready,
  async fn() {
    const nets = await TfliteMtcnn.load(paths!);
    const options = mtcnnOptions(await mtcnnSettings(0));
    for (const [file, expected] of Object.entries(GROUP_FACES)) {
      const faces = await detectFaces(
        await decodeImage(join(GROUP, file)),
        nets,
        options,
      );
      assert.equal(faces.length, expected, file);
    }
    nets.dispose();
  },
});
