import type { TypedArray } from '../dtypes';

/** Algorithms, named after TensorRT's calibrator interfaces (IInt8EntropyCalibrator2, IInt8MinMaxCalibrator, ...). */
export type CalibrationAlgorithm = 'entropy2' | 'entropy' | 'minmax' | 'legacy' | 'percentile';

/** One calibration batch: input name -> host data (float32 for float inputs), batchSize samples each. */
export type CalibrationBatch = Record<string, TypedArray>;

/**
 * What the builder needs from a calibrator. The abstract `Calibrator` class (lib/calibration) implements
 * it; `BuilderConfig.calibrator` accepts any object of this shape.
 */
export interface CalibratorLike {
  readonly algorithm: CalibrationAlgorithm;
  readonly batchSize: number;
  /** Next batch, or null when the data is exhausted. Sync or async. */
  getBatch(inputNames: string[]): CalibrationBatch | null | Promise<CalibrationBatch | null>;
  /** A TensorRT calibration cache to reuse (skips getBatch), or null. */
  readCache(): Uint8Array | null | Promise<Uint8Array | null>;
  writeCache(cache: Uint8Array): void | Promise<void>;
  /** Only for the 'percentile' algorithm: the percentile of |x| taken as amax (e.g. 99.99). */
  readonly percentile?: number;
  /** Only for the 'legacy' algorithm (IInt8LegacyCalibrator). */
  readonly quantile?: number;
  readonly regressionCutoff?: number;
}
