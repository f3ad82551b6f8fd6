/**
 * fast-check settings shared by the property and fuzz suites.
 *
 * CI must be stable, so every property runs from a fixed default seed. To explore, set
 *
 *     FOCAL_FC_SEED=<integer>    another seed (or `random` for a fresh one each run)
 *     FOCAL_FC_RUNS=<factor>     multiply every property's numRuns (e.g. 10 for a long soak)
 *
 * A failing property prints its seed, path and shrunk counterexample; rerun it with
 * `FOCAL_FC_SEED=<seed>` (and the same FOCAL_FC_RUNS) to reproduce.
 */
import fc from 'fast-check';

/** The default seed (any fixed integer; changing it is a deliberate act). */
export const DEFAULT_SEED = 20250611;

function envSeed(): number {
  const text = process.env.FOCAL_FC_SEED;
  if (text === undefined || text === '') return DEFAULT_SEED;
  if (text === 'random') return (Math.random() * 2 ** 31) | 0;
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new Error(`FOCAL_FC_SEED must be an integer or 'random', got '${text}'`);
  return n;
}

function envFactor(): number {
  const text = process.env.FOCAL_FC_RUNS;
  if (text === undefined || text === '') return 1;
  const n = Number(text);
  if (!(n > 0)) throw new Error(`FOCAL_FC_RUNS must be a number > 0, got '${text}'`);
  return n;
}

export const SEED = envSeed();
export const RUNS_FACTOR = envFactor();

/** Parameters for `fc.assert`: the seed above and `numRuns` scaled by FOCAL_FC_RUNS. */
export function fcParams<T>(numRuns: number, extra: fc.Parameters<T> = {}): fc.Parameters<T> {
  return { seed: SEED, numRuns: Math.max(1, Math.round(numRuns * RUNS_FACTOR)), endOnFailure: false, ...extra };
}
