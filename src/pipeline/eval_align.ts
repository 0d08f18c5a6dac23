/**
 * How evaluation images become network inputs: resized as they are
 * (`align: none`, for sets of aligned crops), or detected and aligned with
 * MTCNN (`align: mtcnn`). An image where MTCNN finds no face falls back to
 * the resized whole image, as the standard LFW evaluation scripts do, so
 * every pair keeps both images. The fallbacks are counted and listed.
 *
 * @module
 */

import type { Config } from "../config/types.ts";
import { type RawImage, resizeImage } from "../data/image.ts";
import { NoFaceError } from "../detect/select.ts";
import { FaceAligner } from "../pretrained/aligner.ts";
import type { Reporter } from "../report.ts";

/** Turns a decoded image into a `size` x `size` network input. */
export type ImagePreparer = (
  image: RawImage,
  path: string,
  size: number,
) => Promise<RawImage>;

/** Resizes the whole image (Lanczos-3, stretched when not square). */
export const defaultPreparer: ImagePreparer = (image, _path, size) =>
  resizeImage(image, size);

/** MTCNN alignment for evaluation, with the images it had to fall back on. */
export class EvalAligner {
  readonly #aligner: FaceAligner;
  /** Images where no face was found, resized whole instead. */
  readonly fallbacks: string[] = [];

  private constructor(aligner: FaceAligner) {
    this.#aligner = aligner;
  }

  /**
   * Loads MTCNN from the pretrained assets.
   *
   * @throws {MissingAssetsError} When the weights are absent, saying how to
   *     fetch them.
   */
  static async load(config: Config): Promise<EvalAligner> {
    // The output side is given per call; 112 is only the loader's default.
    return new EvalAligner(await FaceAligner.load(config, 112));
  }

  /** Returns the preparer for one set, which records fallbacks through `reporter`. */
  preparer(reporter: Reporter): ImagePreparer {
    return async (image, path, size) => {
      try {
        return (await this.#aligner.align(image, path, size)).image;
      } catch (error) {
        if (!(error instanceof NoFaceError)) throw error;
        this.fallbacks.push(path);
        reporter.record({ event: "eval_no_face", path });
        return await resizeImage(image, size);
      }
    };
  }

  dispose(): void {
    this.#aligner.dispose();
  }
}
