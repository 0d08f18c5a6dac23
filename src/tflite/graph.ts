/**
 * Runs a TFLite float graph with TF.js ops. Each operator of the file maps
 * to the TF.js op of the same meaning, and constants become tensors once.
 * The graph is evaluated in the file's operator order, which the TFLite
 * converter writes in dependency order.
 *
 * Only the operators of the repository's pretrained graphs are supported,
 * and any other stops the import with its name. Shapes are taken from the
 * inputs at run time, so a graph exported for one input size (P-Net for
 * 1280x960) runs at any size its layers allow, and a batch dimension fixed
 * in a RESHAPE follows the input batch.
 *
 * Weight layouts of the format: CONV_2D filters are [out, kh, kw, in] and
 * become TF.js [kh, kw, in, out]; DEPTHWISE_CONV_2D filters are
 * [1, kh, kw, C * multiplier] and become [kh, kw, C, multiplier];
 * FULLY_CONNECTED weights are [out, in] over the input flattened in NHWC
 * order.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { FlatBufferError } from "./flatbuffer.ts";
import {
  type Activation,
  tensorFloats,
  tensorInts,
  type TfliteModel,
  type TfliteOperator,
  type WindowOptions,
} from "./model.ts";

/** Operators {@linkcode TfliteGraph} evaluates. */
export const SUPPORTED_OPERATORS: readonly string[] = [
  "ABS",
  "ADD",
  "CONV_2D",
  "DEPTHWISE_CONV_2D",
  "DIV",
  "EXP",
  "FULLY_CONNECTED",
  "LOGISTIC",
  "MAX_POOL_2D",
  "MUL",
  "NEG",
  "REDUCE_MAX",
  "RELU",
  "RESHAPE",
  "SOFTMAX",
  "SUB",
  "SUM",
];

function activate(x: tf.Tensor, activation: Activation): tf.Tensor {
  switch (activation) {
    case "none":
      return x;
    case "relu":
      return tf.relu(x);
    case "relu6":
      return tf.relu6(x);
    case "relu_n1_to_1":
      return tf.clipByValue(x, -1, 1);
    case "tanh":
      return tf.tanh(x);
    default:
      throw new FlatBufferError(
        `fused activation ${activation} is not supported`,
      );
  }
}

function windowOf(op: TfliteOperator): WindowOptions {
  if (op.options.kind !== "window") {
    throw new FlatBufferError(`${op.op} has no window options in the file`);
  }
  return op.options.window;
}

function fusedActivation(op: TfliteOperator): Activation {
  if (op.options.kind === "window") return op.options.window.activation;
  if (op.options.kind === "activation") return op.options.activation;
  return "none";
}

/** A TFLite graph ready to run; owns its constant tensors. */
export class TfliteGraph {
  readonly model: TfliteModel;
  /** Tensor index -> TF.js constant, in the layout its consumer expects. */
  #constants = new Map<number, tf.Tensor>();

  /**
   * Prepares the constants of every operator.
   *
   * @throws {FlatBufferError} On an operator outside
   *     {@linkcode SUPPORTED_OPERATORS}, naming it and its position.
   */
  constructor(model: TfliteModel) {
    this.model = model;
    model.operators.forEach((op, i) => {
      if (!SUPPORTED_OPERATORS.includes(op.op)) {
        throw new FlatBufferError(
          `operator ${i} is ${op.op}, which this importer does not support (it supports ${
            SUPPORTED_OPERATORS.join(", ")
          })`,
        );
      }
    });
    try {
      for (const op of model.operators) this.#prepare(op);
    } catch (error) {
      this.dispose();
      throw error;
    }
  }

  #prepare(op: TfliteOperator): void {
    const tensors = this.model.tensors;
    const constant = (index: number, make: () => tf.Tensor) => {
      if (index >= 0 && !this.#constants.has(index)) {
        this.#constants.set(index, tf.tidy(make));
      }
    };
    const floats = (index: number) =>
      tf.tensor(tensorFloats(tensors[index]), tensors[index].shape);
    if (op.op === "CONV_2D") {
      constant(
        op.inputs[1],
        () => tf.transpose(floats(op.inputs[1]), [1, 2, 3, 0]),
      );
    } else if (op.op === "DEPTHWISE_CONV_2D") {
      const [, kh, kw, channels] = tensors[op.inputs[1]].shape;
      const multiplier = windowOf(op).depthMultiplier ?? 1;
      const inChannels = channels / multiplier;
      constant(
        op.inputs[1],
        () =>
          tf.reshape(floats(op.inputs[1]), [kh, kw, inChannels, multiplier]),
      );
    } else if (op.op === "FULLY_CONNECTED") {
      constant(op.inputs[1], () => tf.transpose(floats(op.inputs[1])));
    }
    for (const index of op.inputs) {
      const tensor = tensors[index];
      if (index < 0 || tensor.data === null || this.#constants.has(index)) {
        continue;
      }
      if (tensor.type === "float32") constant(index, () => floats(index));
      // int32 constants (axes, shapes) are read where they are used.
    }
  }

  /**
   * Evaluates the graph.
   *
   * @param inputs One tensor per graph input, in the file's input order.
   * @returns One tensor per graph output, in the file's output order; the
   *     caller disposes them.
   */
  run(inputs: tf.Tensor[]): tf.Tensor[] {
    const model = this.model;
    if (inputs.length !== model.inputs.length) {
      throw new TypeError(
        `the graph takes ${model.inputs.length} inputs, got ${inputs.length}`,
      );
    }
    return tf.tidy(() => {
      const values = new Map<number, tf.Tensor>(this.#constants);
      model.inputs.forEach((index, i) => values.set(index, inputs[i]));
      const get = (index: number) => {
        const value = values.get(index);
        if (value === undefined) {
          throw new FlatBufferError(
            `tensor ${index} "${
              model.tensors[index].name
            }" is read before any operator writes it`,
          );
        }
        return value;
      };
      for (const op of model.operators) {
        // Optional inputs are -1; int32 constants (axes, shapes) are read
        // from the file by the operator itself.
        const args = op.inputs.map((i) =>
          i < 0 || (model.tensors[i].data !== null && !values.has(i))
            ? null
            : get(i)
        );
        const result = this.#evaluate(op, args);
        values.set(op.outputs[0], activate(result, fusedActivation(op)));
      }
      return model.outputs.map(get);
    });
  }

  #axes(op: TfliteOperator): number[] {
    return Array.from(tensorInts(this.model.tensors[op.inputs[1]]));
  }

  #evaluate(op: TfliteOperator, args: (tf.Tensor | null)[]): tf.Tensor {
    const [a, b, c] = args;
    switch (op.op) {
      case "CONV_2D":
      case "DEPTHWISE_CONV_2D": {
        const w = windowOf(op);
        const convolve = op.op === "CONV_2D" ? tf.conv2d : tf.depthwiseConv2d;
        const y = convolve(
          a as tf.Tensor4D,
          b as tf.Tensor4D,
          [w.strideH, w.strideW],
          w.padding,
          "NHWC",
          [w.dilationH, w.dilationW],
        );
        return c ? tf.add(y, c) : y;
      }
      case "FULLY_CONNECTED": {
        const rows = tf.reshape(a!, [a!.shape[0], -1]) as tf.Tensor2D;
        const y = tf.matMul(rows, b as tf.Tensor2D);
        return c ? tf.add(y, c) : y;
      }
      case "MAX_POOL_2D": {
        const w = windowOf(op);
        return tf.maxPool(
          a as tf.Tensor4D,
          [w.filterH!, w.filterW!],
          [w.strideH, w.strideW],
          w.padding,
        );
      }
      case "ADD":
        return tf.add(a!, b!);
      case "SUB":
        return tf.sub(a!, b!);
      case "MUL":
        return tf.mul(a!, b!);
      case "DIV":
        return tf.div(a!, b!);
      case "ABS":
        return tf.abs(a!);
      case "NEG":
        return tf.neg(a!);
      case "RELU":
        return tf.relu(a!);
      case "EXP":
        return tf.exp(a!);
      case "LOGISTIC":
        return tf.sigmoid(a!);
      case "SOFTMAX":
        return tf.softmax(a!);
      case "REDUCE_MAX":
        return tf.max(a!, this.#axes(op), this.#keepDims(op));
      case "SUM":
        return tf.sum(a!, this.#axes(op), this.#keepDims(op));
      case "RESHAPE": {
        const shape =
          op.options.kind === "reshape" && op.options.newShape.length > 0
            ? [...op.options.newShape]
            : Array.from(tensorInts(this.model.tensors[op.inputs[1]]));
        // The exported batch size is fixed in the file; follow the input's.
        if (shape.length > 0 && shape[0] > 0) shape[0] = a!.shape[0];
        return tf.reshape(a!, shape);
      }
      default:
        throw new FlatBufferError(`operator ${op.op} is not supported`);
    }
  }

  #keepDims(op: TfliteOperator): boolean {
    return op.options.kind === "reducer" ? op.options.keepDims : false;
  }

  /** Frees the constant tensors. */
  dispose(): void {
    for (const tensor of this.#constants.values()) tensor.dispose();
    this.#constants.clear();
  }
}
