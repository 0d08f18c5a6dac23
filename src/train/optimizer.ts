/**
 * SGD with momentum and two weight-decay groups (MobileFaceNets, section
 * 4.1: momentum 0.9, weight decay 4e-5, and 4e-4 for the layers after the
 * global operator), with gradient buffers for accumulation over
 * micro-batches.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { ownedVariable } from "../model/mobilefacenet.ts";

/** A weight the optimiser updates. */
export interface TrainableWeight {
  name: string;
  variable: tf.Variable;
  /** L2 weight decay of this weight; 0 for none. */
  weightDecay: number;
}

/**
 * SGD with momentum in the form PyTorch uses:
 * g = grad + decay * w; v = momentum * v + g; w = w - lr * v.
 *
 * Gradients of the micro-batches of one step are summed into pre-allocated
 * buffers with {@linkcode accumulate}; {@linkcode step} applies their mean.
 * The optimiser owns its buffers and frees them in {@linkcode dispose}.
 */
export class SgdMomentum {
  readonly weights: readonly TrainableWeight[];
  readonly momentum: number;
  #velocity: tf.Variable[];
  #gradientSums: tf.Variable[];
  #accumulated = 0;

  constructor(weights: TrainableWeight[], momentum: number) {
    this.weights = weights;
    this.momentum = momentum;
    this.#velocity = weights.map((w) =>
      ownedVariable(() => tf.zerosLike(w.variable), false)
    );
    this.#gradientSums = weights.map((w) =>
      ownedVariable(() => tf.zerosLike(w.variable), false)
    );
  }

  /** Micro-batch gradients summed since the last step. */
  get accumulated(): number {
    return this.#accumulated;
  }

  /**
   * Adds one micro-batch's gradients to the buffers.
   *
   * @param gradients Keyed by TF.js variable name (as `tf.variableGrads`
   *     returns them); each the shape of its weight.
   *     Missing names count as zero. The caller keeps ownership.
   */
  accumulate(gradients: Record<string, tf.Tensor>): void {
    tf.tidy(() => {
      this.weights.forEach((w, i) => {
        const gradient = gradients[w.variable.name];
        if (gradient) {
          this.#gradientSums[i].assign(tf.add(this.#gradientSums[i], gradient));
        }
      });
    });
    this.#accumulated += 1;
  }

  /**
   * Applies the mean of the accumulated gradients with learning rate `lr`
   * and clears the buffers.
   *
   * @throws {RangeError} When nothing was accumulated.
   */
  step(lr: number): void {
    if (this.#accumulated === 0) {
      throw new RangeError(
        "Cannot take an optimiser step: no gradients were accumulated",
      );
    }
    const inverse = 1 / this.#accumulated;
    tf.tidy(() => {
      this.weights.forEach((w, i) => {
        let gradient = tf.mul(this.#gradientSums[i], inverse);
        if (w.weightDecay > 0) {
          gradient = tf.add(gradient, tf.mul(w.variable, w.weightDecay));
        }
        const velocity = tf.add(
          tf.mul(this.#velocity[i], this.momentum),
          gradient,
        );
        this.#velocity[i].assign(velocity);
        w.variable.assign(tf.sub(w.variable, tf.mul(velocity, lr)));
        this.#gradientSums[i].assign(tf.zerosLike(w.variable));
      });
    });
    this.#accumulated = 0;
  }

  /** Returns the momentum buffers, keyed `<weight name>/velocity`, for checkpoints. */
  velocities(): { name: string; variable: tf.Variable }[] {
    return this.weights.map((w, i) => ({
      name: `${w.name}/velocity`,
      variable: this.#velocity[i],
    }));
  }

  /** Frees the momentum and gradient buffers (not the weights). */
  dispose(): void {
    tf.dispose([...this.#velocity, ...this.#gradientSums]);
  }
}
