/**
 * The crop step of the recipe: MTCNN with the pretrained networks finds the
 * face, and its five landmarks are aligned onto the ArcFace template at the
 * model's input size.
 *
 * @module
 */

import type { Config, MtcnnConfig } from "../config/types.ts";
import type { RawImage } from "../data/image.ts";
import { alignFace } from "../detect/align.ts";
import { detectFaces, type Face, type MtcnnOptions } from "../detect/mtcnn.ts";
import { NoFaceError, selectFace } from "../detect/select.ts";
import { requireAssets } from "./assets.ts";
import { TfliteMtcnn } from "./mtcnn.ts";

/** Maps the `mtcnn` config section onto the detector's options. */
export function mtcnnOptions(config: MtcnnConfig): MtcnnOptions {
  return {
    minFaceSize: config.min_face_size,
    scaleFactor: config.scale_factor,
    pnetThreshold: config.thresholds[0],
    rnetThreshold: config.thresholds[1],
    onetThreshold: config.thresholds[2],
    pnetLevelIou: config.nms_level,
    pnetIou: config.nms_pyramid,
    rnetIou: config.nms_rnet,
    onetMinOverlap: config.nms_onet_min,
    batchSize: config.batch_size,
  };
}

/** Copies an image into the centre of a black canvas `pad` pixels larger on each side. */
export function addBorder(image: RawImage, pad: number): RawImage {
  if (pad === 0) return image;
  const width = image.width + 2 * pad;
  const height = image.height + 2 * pad;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < image.height; y++) {
    data.set(
      image.data.subarray(y * image.width * 3, (y + 1) * image.width * 3),
      ((y + pad) * width + pad) * 3,
    );
  }
  return { data, width, height, channels: 3 };
}

/** A face found and aligned in one image. */
export interface AlignedFace {
  /** [size, size, 3] RGB uint8. */
  image: RawImage;
  /** The detection, in pixel coordinates of the source image. */
  face: Face;
  /** Faces found in the image, including the one chosen. */
  found: number;
}

/** MTCNN with the pretrained weights and the alignment onto the template. */
export class FaceAligner {
  readonly #nets: TfliteMtcnn;
  readonly #options: MtcnnOptions;
  readonly #border: number;
  readonly size: number;

  constructor(
    nets: TfliteMtcnn,
    config: MtcnnConfig,
    size: number,
  ) {
    this.#nets = nets;
    this.#options = mtcnnOptions(config);
    this.#border = config.border;
    this.size = size;
  }

  /**
   * Loads the pretrained MTCNN networks named by `config.assets`.
   *
   * @param size Side of the aligned output; the model's input size.
   * @throws {MissingAssetsError} When the weights are absent or differ from
   *     their pins, saying how to fetch them.
   */
  static async load(config: Config, size: number): Promise<FaceAligner> {
    const paths = await requireAssets(config.assets.dir);
    const nets = await TfliteMtcnn.load(paths);
    return new FaceAligner(nets, config.mtcnn, size);
  }

  /**
   * Detects the faces of an image, takes the largest central one (see
   * `selectFace`) and aligns it.
   *
   * @param path Names the image in the error.
   * @param size Side of the aligned output; the aligner's size by default.
   * @throws {NoFaceError} When no face is found.
   */
  async align(
    image: RawImage,
    path: string,
    size = this.size,
  ): Promise<AlignedFace> {
    const pad = Math.round(this.#border * Math.max(image.width, image.height));
    const padded = addBorder(image, pad);
    const faces = (await detectFaces(padded, this.#nets, this.#options)).map(
      (face): Face => ({
        score: face.score,
        box: {
          x1: face.box.x1 - pad,
          y1: face.box.y1 - pad,
          x2: face.box.x2 - pad,
          y2: face.box.y2 - pad,
        },
        landmarks: face.landmarks.map(([x, y]) => [x - pad, y - pad]),
      }),
    );
    const face = selectFace(faces, image.width, image.height, path);
    return {
      image: alignFace(image, face.landmarks, size),
      face,
      found: faces.length,
    };
  }

  dispose(): void {
    this.#nets.dispose();
  }
}

export { NoFaceError };
