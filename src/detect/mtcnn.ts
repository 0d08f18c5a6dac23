/**
 * MTCNN face detection (Zhang, Zhang, Li and Qiao, "Joint Face Detection and
 * Alignment using Multi-task Cascaded Convolutional Networks", 2016,
 * arXiv:1604.02878): P-Net proposes windows on an image pyramid, R-Net and
 * O-Net rescore and refine them, and O-Net places five landmarks. The paper
 * detects and aligns every face with it before cropping to 112x112.
 *
 * The networks come in through {@linkcode MtcnnNetworks}, so this module
 * holds only the algorithm around them. Coordinates are continuous pixels
 * throughout: pixel (r, c) covers [c, c + 1) x [r, r + 1), its centre is
 * (c + 0.5, r + 0.5), and a box [x1, x2) x [y1, y2) has width x2 - x1.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { checkImage, type RawImage } from "../data/image.ts";
import {
  type Box,
  nonMaxSuppression,
  type Point,
  regressBox,
  squareBox,
} from "./boxes.ts";
import {
  type Candidate,
  PNET_STRIDE,
  PNET_WINDOW,
  pnetCandidates,
  type PyramidLevel,
  pyramidLevels,
} from "./pyramid.ts";
import { sampleAffine } from "./_sample.ts";

/**
 * The three MTCNN networks. Images are in natural orientation (rows top to
 * bottom), NHWC float32 RGB in 0..255; an implementation applies whatever
 * transposition or normalisation its weights need.
 */
export interface MtcnnNetworks {
  /**
   * Runs P-Net on one pyramid level.
   *
   * @param image `[1, h, w, 3]` float32 RGB in 0..255.
   * @returns Face probability `[1, h', w']` and box regression
   *   `[1, h', w', 4]` (dx1, dy1, dx2, dy2 as fractions of the window side)
   *   for 12x12 windows at stride 2, h' = floor((h - 12) / 2) + 1 and
   *   w' = floor((w - 12) / 2) + 1.
   */
  pnet(
    image: tf.Tensor4D,
  ): { probability: tf.Tensor3D; regression: tf.Tensor4D };
  /**
   * Runs R-Net on square crops.
   *
   * @param crops `[n, 24, 24, 3]` float32 RGB in 0..255.
   * @returns Probability `[n]` and regression `[n, 4]` as for P-Net.
   */
  rnet(
    crops: tf.Tensor4D,
  ): { probability: tf.Tensor1D; regression: tf.Tensor2D };
  /**
   * Runs O-Net on square crops.
   *
   * @param crops `[n, 48, 48, 3]` float32 RGB in 0..255.
   * @returns Probability `[n]`, regression `[n, 4]`, and landmarks
   *   `[n, 10]`. The landmarks are the x of the five points, then their y,
   *   as fractions of the crop's width and height from its top-left corner.
   *   The points are, in order, the image-left eye, image-right eye, nose
   *   tip, image-left mouth corner and image-right mouth corner.
   */
  onet(crops: tf.Tensor4D): {
    probability: tf.Tensor1D;
    regression: tf.Tensor2D;
    landmarks: tf.Tensor2D;
  };
}

/** Settings of {@linkcode detectFaces}. */
export interface MtcnnOptions {
  /** Smallest face side to detect, in pixels; sets the first pyramid scale 12 / minFaceSize. */
  minFaceSize: number;
  /** Ratio of consecutive pyramid scales, in (0, 1). */
  scaleFactor: number;
  /** Lowest P-Net probability of a candidate window. */
  pnetThreshold: number;
  /** Lowest R-Net probability kept. */
  rnetThreshold: number;
  /** Lowest O-Net probability kept. */
  onetThreshold: number;
  /** Largest IoU between P-Net windows kept within one pyramid level. */
  pnetLevelIou: number;
  /** Largest IoU between P-Net windows kept across all levels. */
  pnetIou: number;
  /** Largest IoU between windows kept after R-Net. */
  rnetIou: number;
  /** Largest intersection over the smaller area between faces kept after O-Net. */
  onetMinOverlap: number;
  /** Crops per R-Net or O-Net call. */
  batchSize: number;
}

/**
 * The MTCNN settings of Zhang et al. 2016 (arXiv:1604.02878) as the widely
 * used facenet port of their detector applies them (davidsandberg/facenet:
 * src/align/align_dataset_mtcnn.py passes the first three values to
 * src/align/detect_face.py, which fixes the NMS values). The minimum face is
 * 20 px and the scale factor 0.709 (about 1 / sqrt(2)). The stage thresholds
 * are 0.6, 0.7 and 0.7. NMS keeps IoU up to 0.5 within a pyramid level and
 * 0.7 across levels and after R-Net, and intersection over the smaller box
 * up to 0.7 after O-Net. The batch size is this repository's choice and
 * does not change the result.
 */
export const MTCNN_DEFAULTS: Readonly<MtcnnOptions> = Object.freeze({
  minFaceSize: 20,
  scaleFactor: 0.709,
  pnetThreshold: 0.6,
  rnetThreshold: 0.7,
  onetThreshold: 0.7,
  pnetLevelIou: 0.5,
  pnetIou: 0.7,
  rnetIou: 0.7,
  onetMinOverlap: 0.7,
  batchSize: 256,
});

/** A detected face in continuous pixel coordinates of the image. */
export interface Face {
  /** O-Net's regressed box; not squared, and it may reach outside the image. */
  box: Box;
  /** O-Net's face probability. */
  score: number;
  /** The five landmarks in the order of {@linkcode MtcnnNetworks.onet}. */
  landmarks: Point[];
}

/** Sides of the R-Net and O-Net inputs in pixels. */
const RNET_SIDE = 24;
const ONET_SIDE = 48;

/**
 * Detects faces with the three MTCNN stages.
 *
 * 1. P-Net runs on each pyramid level (bilinear resize with half-pixel
 *    centres); windows at or above `pnetThreshold` are suppressed per level
 *    (`pnetLevelIou`), then across levels (`pnetIou`), regressed and squared.
 * 2. Each window is cropped and resized to 24x24 by bilinear sampling, with
 *    zeros outside the image; R-Net's survivors (`rnetThreshold`,
 *    `rnetIou`) are regressed and squared.
 * 3. The same at 48x48 for O-Net. The landmarks are placed in the box O-Net
 *    saw, the box is regressed, and the faces are suppressed by
 *    intersection over the smaller area (`onetMinOverlap`).
 *
 * A window passes a threshold when its probability is at least the
 * threshold. Boxes keep fractional coordinates, whereas the facenet port
 * truncates them to whole pixels before cropping.
 *
 * NOTE: Bilinear resizing does not low-pass filter when it shrinks, unlike
 * the area resampling (OpenCV INTER_AREA) of the facenet port, so pyramid
 * levels and crops of large faces alias more than in that port.
 *
 * Every tensor this function creates is disposed before it returns or
 * throws, including the networks' outputs.
 *
 * @example Detect and align the faces of a photo
 * ```ts ignore
 * const image = await decodeImage("group.jpg");
 * const faces = await detectFaces(image, nets, MTCNN_DEFAULTS);
 * const aligned = faces.map((face) => alignFace(image, face.landmarks, 112));
 * ```
 *
 * @param image `[H, W, 3]` RGB uint8.
 * @param nets The three networks.
 * @param options Stage settings; start from {@linkcode MTCNN_DEFAULTS}.
 * @returns The faces, highest score first; empty when none is found or the
 *   image is smaller than the smallest face.
 * @throws {RangeError} When an option is out of range; the message names it.
 * @throws {TypeError} When the image buffer does not match its size or a
 *   network returns a tensor of the wrong shape; the message gives both
 *   shapes.
 * @throws {RangeError} When a network returns NaN or an infinity.
 */
export async function detectFaces(
  image: RawImage,
  nets: MtcnnNetworks,
  options: MtcnnOptions,
): Promise<Face[]> {
  checkImage(image);
  checkOptions(options);
  const levels = pyramidLevels(
    image.width,
    image.height,
    options.minFaceSize,
    options.scaleFactor,
  );
  if (levels.length === 0) return [];

  const proposals = await proposeWindows(image, nets, levels, options);
  if (proposals.length === 0) return [];

  const refined = await refineWindows(image, nets, proposals, options);
  if (refined.length === 0) return [];

  return await outputFaces(image, nets, refined, options);
}

/** Stage 1: P-Net windows, suppressed, regressed and squared. */
async function proposeWindows(
  image: RawImage,
  nets: MtcnnNetworks,
  levels: PyramidLevel[],
  options: MtcnnOptions,
): Promise<Box[]> {
  const input = tf.tensor4d(Float32Array.from(image.data), [
    1,
    image.height,
    image.width,
    3,
  ]);
  const windows: Candidate[] = [];
  try {
    for (const level of levels) {
      const outputs = tf.tidy(() => {
        const resized = tf.image.resizeBilinear(
          input,
          [level.height, level.width],
          false,
          true,
        );
        return nets.pnet(resized);
      });
      let probability: Float32Array;
      let regression: Float32Array;
      try {
        const rows = Math.floor((level.height - PNET_WINDOW) / PNET_STRIDE) + 1;
        const cols = Math.floor((level.width - PNET_WINDOW) / PNET_STRIDE) + 1;
        checkShape("P-Net probability", outputs.probability, [1, rows, cols]);
        checkShape("P-Net regression", outputs.regression, [1, rows, cols, 4]);
        [probability, regression] = await Promise.all([
          readFloats("P-Net probability", outputs.probability),
          readFloats("P-Net regression", outputs.regression),
        ]);
      } finally {
        tf.dispose([outputs.probability, outputs.regression]);
      }
      const candidates = pnetCandidates(
        probability,
        regression,
        level,
        image,
        options.pnetThreshold,
      );
      const kept = nonMaxSuppression(
        candidates.map((c) => c.box),
        candidates.map((c) => c.score),
        options.pnetLevelIou,
        "union",
      );
      for (const k of kept) windows.push(candidates[k]);
    }
  } finally {
    input.dispose();
  }
  const kept = nonMaxSuppression(
    windows.map((w) => w.box),
    windows.map((w) => w.score),
    options.pnetIou,
    "union",
  );
  return kept.map((k) =>
    squareBox(regressBox(windows[k].box, windows[k].offsets))
  );
}

/** Stage 2: R-Net on 24x24 crops, suppressed, regressed and squared. */
async function refineWindows(
  image: RawImage,
  nets: MtcnnNetworks,
  boxes: Box[],
  options: MtcnnOptions,
): Promise<Box[]> {
  const outputs = await runOnCrops(image, boxes, {
    name: "R-Net",
    side: RNET_SIDE,
    batchSize: options.batchSize,
    net: (crops) => nets.rnet(crops),
    landmarks: false,
  });
  const passed = passing(outputs.probability, options.rnetThreshold);
  const kept = nonMaxSuppression(
    passed.map((i) => boxes[i]),
    passed.map((i) => outputs.probability[i]),
    options.rnetIou,
    "union",
  );
  return kept.map((k) => {
    const i = passed[k];
    return squareBox(
      regressBox(boxes[i], outputs.regression.subarray(4 * i, 4 * i + 4)),
    );
  });
}

/** Stage 3: O-Net on 48x48 crops, landmarks, regression and min-overlap NMS. */
async function outputFaces(
  image: RawImage,
  nets: MtcnnNetworks,
  boxes: Box[],
  options: MtcnnOptions,
): Promise<Face[]> {
  const outputs = await runOnCrops(image, boxes, {
    name: "O-Net",
    side: ONET_SIDE,
    batchSize: options.batchSize,
    net: (crops) => nets.onet(crops),
    landmarks: true,
  });
  const faces = passing(outputs.probability, options.onetThreshold).map(
    (i): Face => {
      const box = boxes[i];
      const width = box.x2 - box.x1;
      const height = box.y2 - box.y1;
      // NOTE: The facenet port computes x1 + w f - 1 on 1-based inclusive
      // boxes, which lies half a pixel right and down of x1 + w f here. Which
      // of the two the imported O-Net was trained with is not established.
      const fractions = outputs.landmarks.subarray(10 * i, 10 * i + 10);
      const landmarks: Point[] = [];
      for (let p = 0; p < 5; p++) {
        landmarks.push([
          box.x1 + fractions[p] * width,
          box.y1 + fractions[5 + p] * height,
        ]);
      }
      return {
        box: regressBox(box, outputs.regression.subarray(4 * i, 4 * i + 4)),
        score: outputs.probability[i],
        landmarks,
      };
    },
  );
  const kept = nonMaxSuppression(
    faces.map((f) => f.box),
    faces.map((f) => f.score),
    options.onetMinOverlap,
    "min",
  );
  return kept.map((k) => faces[k]);
}

/** The outputs of R-Net or O-Net for all boxes, in box order. */
interface CropOutputs {
  /** `[n]` probabilities. */
  probability: Float32Array;
  /** `[n, 4]` regression, row-major. */
  regression: Float32Array;
  /** `[n, 10]` landmark fractions, row-major; empty for R-Net. */
  landmarks: Float32Array;
}

/** Settings of {@linkcode runOnCrops}. */
interface CropRun {
  /** Network name for error messages. */
  name: string;
  /** Side of the square crops in pixels. */
  side: number;
  /** Crops per call. */
  batchSize: number;
  net: (crops: tf.Tensor4D) => {
    probability: tf.Tensor1D;
    regression: tf.Tensor2D;
    landmarks?: tf.Tensor2D;
  };
  /** Whether the network returns landmarks. */
  landmarks: boolean;
}

/** Crops every box, runs the network in batches and gathers its outputs. */
async function runOnCrops(
  image: RawImage,
  boxes: Box[],
  run: CropRun,
): Promise<CropOutputs> {
  const n = boxes.length;
  const gathered: CropOutputs = {
    probability: new Float32Array(n),
    regression: new Float32Array(n * 4),
    landmarks: new Float32Array(run.landmarks ? n * 10 : 0),
  };
  for (let start = 0; start < n; start += run.batchSize) {
    const count = Math.min(run.batchSize, n - start);
    const pixels = cropBoxes(
      image,
      boxes.slice(start, start + count),
      run.side,
    );
    const outputs = tf.tidy(() =>
      run.net(tf.tensor4d(pixels, [count, run.side, run.side, 3]))
    );
    try {
      checkShape(`${run.name} probability`, outputs.probability, [count]);
      checkShape(`${run.name} regression`, outputs.regression, [count, 4]);
      gathered.probability.set(
        await readFloats(`${run.name} probability`, outputs.probability),
        start,
      );
      gathered.regression.set(
        await readFloats(`${run.name} regression`, outputs.regression),
        4 * start,
      );
      if (run.landmarks) {
        checkShape(`${run.name} landmarks`, outputs.landmarks, [count, 10]);
        gathered.landmarks.set(
          await readFloats(
            `${run.name} landmarks`,
            outputs.landmarks as tf.Tensor,
          ),
          10 * start,
        );
      }
    } finally {
      tf.dispose(Object.values(outputs));
    }
  }
  return gathered;
}

/**
 * Crops boxes out of an image and resizes each to `side` x `side` by
 * bilinear sampling. The parts of a box outside the image are black.
 *
 * @returns `[boxes.length, side, side, 3]` float32 RGB in 0..255.
 */
export function cropBoxes(
  image: RawImage,
  boxes: readonly Box[],
  side: number,
): Float32Array {
  const pixels = new Float32Array(boxes.length * side * side * 3);
  boxes.forEach((box, i) => {
    // Output pixel centre u in [0, side) maps to x1 + u (x2 - x1) / side.
    const scaleX = (box.x2 - box.x1) / side;
    const scaleY = (box.y2 - box.y1) / side;
    sampleAffine(
      image,
      [scaleX, 0, box.x1, 0, scaleY, box.y1],
      side,
      side,
      pixels,
      i * side * side * 3,
    );
  });
  return pixels;
}

/** Returns the indices whose probability is at least `threshold`. */
function passing(probability: Float32Array, threshold: number): number[] {
  const indices: number[] = [];
  probability.forEach((p, i) => {
    if (p >= threshold) indices.push(i);
  });
  return indices;
}

/**
 * Reads a network output, rejecting NaN and infinities, which come from
 * broken weights or a wrong input normalisation and would otherwise drop
 * every window without a word.
 */
async function readFloats(
  what: string,
  tensor: tf.Tensor,
): Promise<Float32Array> {
  const data = await tensor.data();
  const values = data instanceof Float32Array
    ? data
    : Float32Array.from(data as ArrayLike<number>);
  const bad = values.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    throw new RangeError(
      `Cannot run MTCNN: ${what} contains ${
        values[bad]
      } at flat index ${bad}; check the network's weights and input range`,
    );
  }
  return values;
}

function checkShape(
  what: string,
  tensor: tf.Tensor | undefined,
  expected: number[],
): void {
  if (tensor === undefined) {
    throw new TypeError(
      `Cannot run MTCNN: ${what} is missing, expected shape [${
        expected.join(", ")
      }]`,
    );
  }
  const actual = tensor.shape;
  if (
    actual.length !== expected.length ||
    actual.some((dim, i) => dim !== expected[i])
  ) {
    throw new TypeError(
      `Cannot run MTCNN: ${what} has shape [${actual.join(", ")}], expected [${
        expected.join(", ")
      }]`,
    );
  }
}

function checkOptions(options: MtcnnOptions): void {
  const fail = (name: keyof MtcnnOptions, rule: string): never => {
    throw new RangeError(
      `Invalid MTCNN option ${name}: expected ${rule}, got ${options[name]}`,
    );
  };
  if (!(options.minFaceSize > 0) || !Number.isFinite(options.minFaceSize)) {
    fail("minFaceSize", "a finite number of pixels > 0");
  }
  if (!(options.scaleFactor > 0 && options.scaleFactor < 1)) {
    fail("scaleFactor", "a number in (0, 1)");
  }
  const fractions = [
    "pnetThreshold",
    "rnetThreshold",
    "onetThreshold",
    "pnetLevelIou",
    "pnetIou",
    "rnetIou",
    "onetMinOverlap",
  ] as const;
  for (const name of fractions) {
    if (!(options[name] >= 0 && options[name] <= 1)) {
      fail(name, "a number in [0, 1]");
    }
  }
  if (!Number.isInteger(options.batchSize) || options.batchSize < 1) {
    fail("batchSize", "a positive integer");
  }
}
