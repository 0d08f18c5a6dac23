/**
 * The configuration schema: every key a profile may set, its type and its
 * allowed range. Values live in `configs/*.yaml`; this file only defines what is
 * valid, so that a typo or an out-of-range value stops a run before any work.
 *
 * @module
 */

/** Describes one configuration value. */
export type Spec =
  | {
    kind: "number";
    min?: number;
    max?: number;
    /** When true, `min` itself is not allowed. */
    exclusiveMin?: boolean;
    integer?: boolean;
  }
  | { kind: "string"; choices?: readonly string[] }
  | { kind: "boolean" }
  | { kind: "list"; of: Spec; minItems?: number }
  | {
    kind: "object";
    fields: Record<string, Spec>;
    /** Keys that may be absent, with the value they take then. */
    defaults?: Record<string, unknown>;
  }
  | { kind: "nullable"; of: Spec };

const count = (min = 0): Spec => ({ kind: "number", integer: true, min });
const positive: Spec = { kind: "number", min: 0, exclusiveMin: true };
const fraction: Spec = { kind: "number", min: 0, max: 1 };
const text: Spec = { kind: "string" };
const names: Spec = { kind: "list", of: text };

/** Identity folder names of a root to use; `null` takes all of them. */
const identityFilter: Spec = { kind: "nullable", of: names };

/** An evaluation set that the pipeline writes from an identity-folder set. */
const makePairsSpec: Spec = {
  kind: "object",
  fields: {
    root: text,
    identities: identityFilter,
    folds: count(1),
    per_fold: count(1),
  },
  defaults: { identities: null, folds: 10 },
};

const evalSetSpec: Spec = {
  kind: "object",
  fields: {
    name: text,
    root: { kind: "nullable", of: text },
    pairs: { kind: "nullable", of: text },
    make_pairs: { kind: "nullable", of: makePairsSpec },
    synthetic: { kind: "boolean" },
    bin: { kind: "nullable", of: text },
    align: { kind: "string", choices: ["none", "mtcnn"] },
  },
  defaults: {
    root: null,
    pairs: null,
    make_pairs: null,
    synthetic: false,
    bin: null,
    align: "none",
  },
};

const rootSpec: Spec = {
  kind: "object",
  fields: {
    path: text,
    format: {
      kind: "string",
      choices: ["folders", "trillion_pairs", "recordio"],
    },
    prefix: text,
    identities: identityFilter,
  },
  defaults: { format: "folders", prefix: "", identities: null },
};

/** The whole configuration. */
export const CONFIG_SPEC: Spec = {
  kind: "object",
  fields: {
    seed: count(0),
    dataset: {
      kind: "object",
      fields: {
        roots: { kind: "list", of: rootSpec },
        synthetic: {
          kind: "nullable",
          of: {
            kind: "object",
            fields: {
              image_counts: { kind: "list", of: count(1), minItems: 1 },
              train_identities: count(1),
              eval_identities: count(2),
              eval_images_per_identity: count(2),
              eval_folds: count(1),
              eval_per_fold: count(1),
              canvas_size: count(16),
            },
          },
        },
        extensions: { kind: "list", of: text, minItems: 1 },
        image_size: count(8),
        detect: { kind: "string", choices: ["none", "mtcnn"] },
        cache_dir: text,
        workers: count(0),
        shard_bytes: {
          kind: "number",
          integer: true,
          min: 1,
          max: 2 ** 32 - 1,
        },
        rules: {
          kind: "object",
          fields: {
            sample_above: count(1),
            keep_above: count(0),
            opened_above: count(0),
            noised_above: count(0),
          },
        },
        augment: {
          kind: "object",
          fields: {
            opening_size: count(1),
            gaussian_sigma: { kind: "number", min: 0 },
            salt_pepper_fraction: fraction,
          },
        },
      },
    },
    model: {
      kind: "object",
      fields: {
        name: { kind: "string", choices: ["mobilefacenet"] },
        input_size: count(16),
        width_multiplier: positive,
        embedding_size: count(1),
        batch_norm_momentum: fraction,
        batch_norm_epsilon: positive,
      },
    },
    loss: {
      kind: "object",
      fields: {
        name: { kind: "string", choices: ["arcface"] },
        scale: positive,
        margin: { kind: "number", min: 0, max: Math.PI / 2 },
        easy_margin: { kind: "boolean" },
        shards: count(1),
      },
    },
    train: {
      kind: "object",
      fields: {
        batch_size: count(1),
        micro_batch_size: count(1),
        steps: count(1),
        learning_rate: positive,
        lr_milestones: { kind: "list", of: count(1) },
        lr_decay: { kind: "number", min: 0, max: 1, exclusiveMin: true },
        warmup_steps: count(0),
        momentum: { kind: "number", min: 0, max: 1 },
        weight_decay: { kind: "number", min: 0 },
        head_weight_decay: { kind: "number", min: 0 },
        checkpoint_every: count(1),
        log_every: count(1),
        loader: {
          kind: "object",
          fields: {
            in_memory_max_bytes: count(0),
            workers: count(0),
            prefetch_batches: count(1),
          },
        },
      },
    },
    eval: {
      kind: "object",
      fields: {
        flip: { kind: "boolean" },
        batch_size: count(1),
        folds: count(2),
        threshold_max: positive,
        threshold_step: positive,
        far_target: { kind: "number", min: 0, max: 1, exclusiveMin: true },
        pixel_baseline: {
          kind: "object",
          fields: { enabled: { kind: "boolean" }, size: count(4) },
        },
        sets: { kind: "list", of: evalSetSpec },
      },
    },
    assets: { kind: "object", fields: { dir: text } },
    mtcnn: {
      kind: "object",
      fields: {
        min_face_size: { kind: "number", min: 12 },
        scale_factor: { kind: "number", min: 0, max: 1, exclusiveMin: true },
        thresholds: { kind: "list", of: fraction, minItems: 3 },
        nms_level: fraction,
        nms_pyramid: fraction,
        nms_rnet: fraction,
        nms_onet_min: fraction,
        batch_size: count(1),
        border: { kind: "number", min: 0, max: 2 },
      },
    },
    runtime: {
      kind: "object",
      fields: {
        backend: {
          kind: "string",
          choices: ["auto", "webgpu", "wasm", "cpu", "tensorflow"],
        },
        threads: count(0),
      },
    },
  },
};
