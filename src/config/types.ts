/**
 * The resolved configuration as TypeScript types. Keys keep the snake_case of
 * the YAML files so that a key reads the same in a profile, in `--set` and in
 * code. `CONFIG_SPEC` in schema.ts lists the allowed values.
 *
 * @module
 */

/**
 * The layout of a dataset root. `folders` is `<path>/<identity>/<image>`.
 * `trillion_pairs` is the Trillion Pairs download, with its celebrity and msra
 * parts under `path`. `recordio` is an insightface `.rec` file with its `.idx`
 * beside it.
 */
export type RootFormat = "folders" | "trillion_pairs" | "recordio";

/** One source of training identities and their images. */
export interface RootConfig {
  /** The folder, or the `.rec` file of a `recordio` root. */
  path: string;
  /**
   * The layout of `path`. The loader fills in `folders` when a profile omits
   * it; roots built in code, such as the synthetic set's, may omit it too.
   */
  format?: RootFormat;
  /** Prepended to identity names, so two roots never share a label. */
  prefix: string;
  /**
   * Identity names to use, as they read without `prefix`: folder names,
   * `celebrity_<folder>` or `msra_<folder>` for `trillion_pairs`, and the
   * 8-digit label for `recordio`. `null` uses all of them.
   */
  identities: string[] | null;
}

/** Synthetic faces for the smoke profile, generated from the run seed. */
export interface SyntheticConfig {
  /** Images per training identity, cycled over the identities. */
  image_counts: number[];
  train_identities: number;
  eval_identities: number;
  eval_images_per_identity: number;
  eval_folds: number;
  /** Same-person pairs per fold, and as many different-person pairs. */
  eval_per_fold: number;
  /** Side of the rendered square image in pixels, before resizing. */
  canvas_size: number;
}

/**
 * The per-identity thresholds of the dataset recipe, for an identity with n
 * images: n > sample_above samples `sample_above` images; keep_above < n keeps
 * all; opened_above < n adds an opened copy; noised_above < n adds opened,
 * Gaussian and salt-and-pepper copies; n <= noised_above drops the identity.
 */
export interface RulesConfig {
  sample_above: number;
  keep_above: number;
  opened_above: number;
  noised_above: number;
}

export interface AugmentConfig {
  /** Side of the square structuring element of the opening, in pixels. */
  opening_size: number;
  /** Standard deviation of the Gaussian noise, in 0..255 intensity units. */
  gaussian_sigma: number;
  /** Fraction of pixels set to black or white by salt-and-pepper noise. */
  salt_pepper_fraction: number;
}

export interface DatasetConfig {
  roots: RootConfig[];
  synthetic: SyntheticConfig | null;
  extensions: string[];
  /** Side of the square output images in pixels. */
  image_size: number;
  /** Face detection and alignment before resizing; `none` for aligned sources. */
  detect: "none" | "mtcnn";
  /** Folder of the built-dataset cache, keyed by the hash of their inputs. */
  cache_dir: string;
  /** Build workers (Deno workers); 0 uses one per logical core. */
  workers: number;
  /** Bytes per packed shard file of the built set, at most 2^32 - 1. */
  shard_bytes: number;
  rules: RulesConfig;
  augment: AugmentConfig;
}

export interface ModelConfig {
  name: "mobilefacenet";
  /** Side of the square input in pixels; a multiple of 16. */
  input_size: number;
  /** Factor on every channel count (1 is MobileFaceNet as published). */
  width_multiplier: number;
  embedding_size: number;
  batch_norm_momentum: number;
  batch_norm_epsilon: number;
}

export interface LossConfig {
  name: "arcface";
  /** Scale s of the normalised logits. */
  scale: number;
  /** Additive angular margin m, in radians. */
  margin: number;
  /** Apply the margin only where cos(theta) > 0 (easy margin). */
  easy_margin: boolean;
  /** Number of class shards of the classifier weight. */
  shards: number;
}

export interface TrainConfig {
  /** Effective batch: images per optimiser step. */
  batch_size: number;
  /** Images per forward and backward pass; divides batch_size. */
  micro_batch_size: number;
  steps: number;
  learning_rate: number;
  /** Steps at which the learning rate is multiplied by lr_decay. */
  lr_milestones: number[];
  lr_decay: number;
  /** Steps of linear warm-up from 0 to learning_rate. */
  warmup_steps: number;
  momentum: number;
  /** L2 weight decay of the body of the network. */
  weight_decay: number;
  /** L2 weight decay of the layers after the global operator and the classifier. */
  head_weight_decay: number;
  checkpoint_every: number;
  log_every: number;
  loader: LoaderConfig;
}

/** Settings of the loader that feeds training from the built set. */
export interface LoaderConfig {
  /**
   * Sets whose decoded pixels take at most this many bytes are decoded into
   * memory once; larger sets stream from the packed shards.
   */
  in_memory_max_bytes: number;
  /** Decode workers of the streaming loader; 0 uses one per logical core. */
  workers: number;
  /** Micro-batches decoded ahead of the one training uses. */
  prefetch_batches: number;
}

/** Writes an LFW-layout set with a pairs.txt from an identity-folder set. */
export interface MakePairsConfig {
  root: string;
  identities: string[] | null;
  folds: number;
  /** Same-person pairs per fold, and as many different-person pairs. */
  per_fold: number;
}

/**
 * One evaluation set: an LFW-layout `root` with its `pairs` file, an
 * insightface verification `.bin` file, or a set the pipeline writes first
 * (`make_pairs`, or the held-out synthetic identities).
 */
export interface EvalSetConfig {
  name: string;
  root: string | null;
  pairs: string | null;
  make_pairs: MakePairsConfig | null;
  synthetic: boolean;
  /** Path of an insightface `.bin` file such as `lfw.bin`. */
  bin: string | null;
  /** Detect and align each image with MTCNN, or use it as it is. */
  align: "none" | "mtcnn";
}

export interface EvalConfig {
  /** Add the embedding of the mirrored image before normalising. */
  flip: boolean;
  batch_size: number;
  folds: number;
  /** Thresholds on squared L2 distance are 0, step, ..., threshold_max. */
  threshold_max: number;
  threshold_step: number;
  /** False accept rate at which VAL is reported. */
  far_target: number;
  pixel_baseline: { enabled: boolean; size: number };
  sets: EvalSetConfig[];
}

/** The pinned pretrained weights (`deno task assets`). */
export interface AssetsConfig {
  /** Folder the weight files are extracted to. */
  dir: string;
}

/**
 * MTCNN face detection. Thresholds are the lowest P-Net, R-Net and O-Net face
 * probabilities kept. The nms_* values are the overlaps above which a weaker
 * box is suppressed: intersection over union, or over the smaller box for
 * nms_onet_min.
 */
export interface MtcnnConfig {
  /** Smallest face side detected, in pixels. */
  min_face_size: number;
  /** Ratio of consecutive image pyramid scales. */
  scale_factor: number;
  thresholds: number[];
  /** Within one pyramid level, after P-Net. */
  nms_level: number;
  /** Across pyramid levels, after P-Net. */
  nms_pyramid: number;
  nms_rnet: number;
  nms_onet_min: number;
  /** Crops per R-Net and O-Net call. */
  batch_size: number;
  /** Black border added on each side before detection, as a fraction of the longer side. */
  border: number;
}

export interface RuntimeConfig {
  backend: "auto" | "webgpu" | "wasm" | "cpu" | "tensorflow";
  /** Threads for the wasm backend; 0 uses one per core. */
  threads: number;
}

/** The fully resolved configuration of a run. */
export interface Config {
  seed: number;
  dataset: DatasetConfig;
  model: ModelConfig;
  loss: LossConfig;
  train: TrainConfig;
  eval: EvalConfig;
  assets: AssetsConfig;
  mtcnn: MtcnnConfig;
  runtime: RuntimeConfig;
}
