/**
 * A reader of TensorFlow Lite model files (`.tflite`): the FlatBuffers
 * schema `tflite` (tensorflow/lite/schema/schema.fbs, file identifier
 * "TFL3"), read into plain objects: tensors with their shapes, types and
 * constant data, operators with their operator codes, inputs, outputs and
 * builtin options.
 *
 * Field indices below follow the order of the fields in the schema; a union
 * takes two indices (its type tag, then its value).
 *
 * @module
 */

import { FlatBufferError, rootTable, type Table } from "./flatbuffer.ts";

/** Element types of the schema's `TensorType` enum, by value. */
const TENSOR_TYPES = [
  "float32",
  "float16",
  "int32",
  "uint8",
  "int64",
  "string",
  "bool",
  "int16",
  "complex64",
  "int8",
  "float64",
] as const;

export type TensorType = (typeof TENSOR_TYPES)[number];

/**
 * Names of the `BuiltinOperator` codes this repository's graphs use, with the
 * neighbours a converter commonly emits. Any other code reads as
 * `BUILTIN_<code>`, and the importers reject it with that name.
 */
const OPERATOR_NAMES: Record<number, string> = {
  0: "ADD",
  1: "AVERAGE_POOL_2D",
  2: "CONCATENATION",
  3: "CONV_2D",
  4: "DEPTHWISE_CONV_2D",
  9: "FULLY_CONNECTED",
  11: "L2_NORMALIZATION",
  14: "LOGISTIC",
  17: "MAX_POOL_2D",
  18: "MUL",
  19: "RELU",
  21: "RELU6",
  22: "RESHAPE",
  25: "SOFTMAX",
  32: "CUSTOM",
  34: "PAD",
  39: "TRANSPOSE",
  40: "MEAN",
  41: "SUB",
  42: "DIV",
  43: "SQUEEZE",
  47: "EXP",
  54: "PRELU",
  55: "MAXIMUM",
  57: "MINIMUM",
  59: "NEG",
  74: "SUM",
  82: "REDUCE_MAX",
  101: "ABS",
};

/** `Padding` enum: SAME = 0, VALID = 1. */
const PADDINGS = ["same", "valid"] as const;

/** `ActivationFunctionType` enum, by value. */
const ACTIVATIONS = [
  "none",
  "relu",
  "relu_n1_to_1",
  "relu6",
  "tanh",
  "sign_bit",
] as const;

export type Activation = (typeof ACTIVATIONS)[number];

/** One tensor of the graph; `data` is set for constants (weights). */
export interface TfliteTensor {
  index: number;
  name: string;
  shape: number[];
  type: TensorType;
  /** Raw little-endian bytes of a constant tensor, or null. */
  data: Uint8Array | null;
}

/** Options of CONV_2D, DEPTHWISE_CONV_2D and the 2-D pools. */
export interface WindowOptions {
  padding: "same" | "valid";
  strideH: number;
  strideW: number;
  dilationH: number;
  dilationW: number;
  activation: Activation;
  /** DEPTHWISE_CONV_2D only. */
  depthMultiplier?: number;
  /** Pools only. */
  filterH?: number;
  filterW?: number;
}

/** Builtin options of an operator, where its type has any. */
export type OperatorOptions =
  | { kind: "window"; window: WindowOptions }
  | { kind: "activation"; activation: Activation }
  | { kind: "softmax"; beta: number }
  | { kind: "reshape"; newShape: number[] }
  | { kind: "concatenation"; axis: number; activation: Activation }
  | { kind: "reducer"; keepDims: boolean }
  | { kind: "squeeze"; dims: number[] }
  | { kind: "none" };

export interface TfliteOperator {
  /** Builtin operator name such as `CONV_2D`. */
  op: string;
  inputs: number[];
  outputs: number[];
  options: OperatorOptions;
}

/** The first subgraph of a model, which is the model for these files. */
export interface TfliteModel {
  version: number;
  description: string | null;
  tensors: TfliteTensor[];
  inputs: number[];
  outputs: number[];
  operators: TfliteOperator[];
}

function activation(code: number, where: string): Activation {
  const name = ACTIVATIONS[code];
  if (name === undefined) {
    throw new FlatBufferError(`${where}: unknown fused activation ${code}`);
  }
  return name;
}

function padding(code: number, where: string): "same" | "valid" {
  const name = PADDINGS[code];
  if (name === undefined) {
    throw new FlatBufferError(`${where}: unknown padding ${code}`);
  }
  return name;
}

/**
 * Reads the builtin options table of one operator. The union tag values are
 * those of the schema's `BuiltinOptions`.
 */
function readOptions(
  tag: number,
  table: Table | null,
  where: string,
): OperatorOptions {
  if (table === null) return { kind: "none" };
  switch (tag) {
    case 1: // Conv2DOptions
      return {
        kind: "window",
        window: {
          padding: padding(table.i8(0, 0), where),
          strideW: table.i32(1, 0),
          strideH: table.i32(2, 0),
          activation: activation(table.i8(3, 0), where),
          dilationW: table.i32(4, 1),
          dilationH: table.i32(5, 1),
        },
      };
    case 2: // DepthwiseConv2DOptions
      return {
        kind: "window",
        window: {
          padding: padding(table.i8(0, 0), where),
          strideW: table.i32(1, 0),
          strideH: table.i32(2, 0),
          depthMultiplier: table.i32(3, 0),
          activation: activation(table.i8(4, 0), where),
          dilationW: table.i32(5, 1),
          dilationH: table.i32(6, 1),
        },
      };
    case 5: // Pool2DOptions
      return {
        kind: "window",
        window: {
          padding: padding(table.i8(0, 0), where),
          strideW: table.i32(1, 0),
          strideH: table.i32(2, 0),
          filterW: table.i32(3, 0),
          filterH: table.i32(4, 0),
          activation: activation(table.i8(5, 0), where),
          dilationH: 1,
          dilationW: 1,
        },
      };
    case 8: // FullyConnectedOptions
    case 11: // AddOptions
    case 12: // L2NormOptions
    case 21: // MulOptions
    case 28: // SubOptions
    case 29: // DivOptions
      return {
        kind: "activation",
        activation: activation(table.i8(0, 0), where),
      };
    case 9: // SoftmaxOptions
      return { kind: "softmax", beta: table.f32(0, 0) };
    case 10: // ConcatenationOptions
      return {
        kind: "concatenation",
        axis: table.i32(0, 0),
        activation: activation(table.i8(1, 0), where),
      };
    case 17: // ReshapeOptions
      return { kind: "reshape", newShape: table.i32Vector(0) };
    case 27: // ReducerOptions
      return { kind: "reducer", keepDims: table.bool(0, false) };
    case 30: // SqueezeOptions
      return { kind: "squeeze", dims: table.i32Vector(0) };
    default:
      return { kind: "none" };
  }
}

/** Bytes of buffer `index`: inline data, or an offset/size into the file. */
function bufferData(
  buffers: Table[],
  index: number,
  bytes: Uint8Array,
  where: string,
): Uint8Array | null {
  if (index === 0) return null; // Buffer 0 is the schema's empty sentinel.
  const buffer = buffers[index];
  if (buffer === undefined) {
    throw new FlatBufferError(
      `${where} names buffer ${index}, but the file has ${buffers.length}`,
    );
  }
  const inline = buffer.vectorBytes(0, 1);
  if (inline !== null && inline.byteLength > 0) return inline;
  const offset = buffer.u64(1, 0);
  const size = buffer.u64(2, 0);
  if (offset > 1 && size > 0) {
    buffer.reader.check(offset, size, `${where} data`);
    return bytes.subarray(offset, offset + size);
  }
  return null;
}

/**
 * Parses a `.tflite` file.
 *
 * @throws {FlatBufferError} When the file is not a TFLite model, is
 *     truncated, or contains quantised tensors, because the importers read
 *     float models only.
 */
export function readTflite(bytes: Uint8Array): TfliteModel {
  const model = rootTable(bytes, "TFLite Model", "TFL3");
  const version = model.u32(0, 0);
  const codes = model.tableVector(1, "OperatorCode").map((code) => {
    // The 8-bit deprecated code stores values up to 127; later codes live in
    // the 32-bit field, and readers take the larger of the two.
    const builtin = Math.max(code.i8(0, 0), code.i32(3, 0));
    return OPERATOR_NAMES[builtin] ?? `BUILTIN_${builtin}`;
  });
  const subgraphs = model.tableVector(2, "SubGraph");
  if (subgraphs.length === 0) {
    throw new FlatBufferError("the model has no subgraph");
  }
  const buffers = model.tableVector(4, "Buffer");
  const graph = subgraphs[0];
  const tensors = graph.tableVector(0, "Tensor").map((tensor, index) => {
    const name = tensor.string(3) ?? `tensor_${index}`;
    const where = `tensor ${index} "${name}"`;
    const typeCode = tensor.i8(1, 0);
    const type = TENSOR_TYPES[typeCode];
    if (type === undefined) {
      throw new FlatBufferError(`${where} has unknown type ${typeCode}`);
    }
    const quantization = tensor.table(4, "QuantizationParameters");
    if (quantization !== null && (quantization.vector(2)?.length ?? 0) > 0) {
      throw new FlatBufferError(
        `${where} is quantised; only float models are supported`,
      );
    }
    return {
      index,
      name,
      shape: tensor.i32Vector(0),
      type,
      data: bufferData(buffers, tensor.u32(2, 0), bytes, where),
    };
  });
  const operators = graph.tableVector(3, "Operator").map((operator, i) => {
    const opcode = operator.u32(0, 0);
    const op = codes[opcode];
    if (op === undefined) {
      throw new FlatBufferError(
        `operator ${i} names operator code ${opcode}, but the file has ${codes.length}`,
      );
    }
    const where = `operator ${i} (${op})`;
    const inputs = operator.i32Vector(1);
    const outputs = operator.i32Vector(2);
    for (const t of [...inputs, ...outputs]) {
      if (t >= tensors.length) {
        throw new FlatBufferError(
          `${where} names tensor ${t}, but the graph has ${tensors.length}`,
        );
      }
    }
    return {
      op,
      inputs,
      outputs,
      options: readOptions(
        operator.u8(3, 0),
        operator.table(4, "BuiltinOptions"),
        where,
      ),
    };
  });
  return {
    version,
    description: model.string(3),
    tensors,
    inputs: graph.i32Vector(1),
    outputs: graph.i32Vector(2),
    operators,
  };
}

/** Returns the float32 values of a constant tensor. */
export function tensorFloats(tensor: TfliteTensor): Float32Array {
  if (tensor.type !== "float32" || tensor.data === null) {
    throw new FlatBufferError(
      `tensor "${tensor.name}" is not a float32 constant (type ${tensor.type}, ${
        tensor.data === null ? "no data" : `${tensor.data.byteLength} bytes`
      })`,
    );
  }
  const count = tensor.shape.reduce((a, b) => a * b, 1);
  if (tensor.data.byteLength !== count * 4) {
    throw new FlatBufferError(
      `tensor "${tensor.name}" of shape [${tensor.shape}] has ${tensor.data.byteLength} bytes, expected ${
        count * 4
      }: the file is corrupt`,
    );
  }
  // Copy: buffer data in a FlatBuffer need not be 4-byte aligned.
  return new Float32Array(tensor.data.slice().buffer);
}

/** Returns the int32 values of a constant tensor (shape operands). */
export function tensorInts(tensor: TfliteTensor): Int32Array {
  if (tensor.type !== "int32" || tensor.data === null) {
    throw new FlatBufferError(
      `tensor "${tensor.name}" is not an int32 constant (type ${tensor.type})`,
    );
  }
  return new Int32Array(tensor.data.slice().buffer);
}
