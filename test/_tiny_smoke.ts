/**
 * Overrides that shrink the smoke profile to seconds: 10 synthetic training
 * identities at 16x16, a width-0.125 network, batch 8 in micro-batches of 4,
 * on the cpu backend. Tests add the steps and schedule they need.
 */
export function tinySmokeSettings(cacheDir: string): string[] {
  return [
    "runtime.backend=cpu",
    `dataset.cache_dir=${cacheDir}`,
    "dataset.synthetic.train_identities=10",
    "dataset.synthetic.eval_identities=8",
    "dataset.synthetic.eval_images_per_identity=4",
    "dataset.synthetic.eval_folds=2",
    "dataset.synthetic.eval_per_fold=6",
    "dataset.synthetic.canvas_size=32",
    "dataset.image_size=16",
    "model.input_size=16",
    "model.width_multiplier=0.125",
    "model.embedding_size=8",
    "train.batch_size=8",
    "train.micro_batch_size=4",
  ];
}
