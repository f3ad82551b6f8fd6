/**
 * Composites for functions ONNX has no op for, or computes slowly or inexactly: a power by
 * products and its derivative, log1p, and the stable log-sigmoid.
 */
import { Value } from './graph';
import * as op from './ops';
import { Param, toType } from './param';

/**
 * The largest exponent whose m^p is built from products (and one Sqrt) rather than Pow: at most 3
 * squarings, 3 products and a Sqrt. onnxruntime's Pow is std::pow for an exponent other than 2
 * or 3 (~0.1 s more a pass at 32M float32 elements than a Mul, bench/README.md); a product is
 * within an ulp or so of it each.
 */
const PRODUCT_POW_MAX = 8;

/**
 * m^p, with p = 0 → undefined (no node: "multiply by nothing"), 1 → m, 2 → m·m (cheaper than Pow
 * and exact); a multiple of ½ up to PRODUCT_POW_MAX by squaring (m^5 = m·(m²)²) and a Sqrt for
 * the half (m^0.5 = √m, m^2.5 = √m·m²); else Pow.
 */
export function powByProducts(m: Value, p: Param): Value | undefined {
  if (typeof p !== 'number') return op.pow(m, toType(p, m.dtype));
  if (p === 0) return undefined;
  if (p === 1) return m;
  if (p === 2) return op.mul(m, m);
  if (p > 0 && p <= PRODUCT_POW_MAX && Number.isInteger(2 * p)) {
    let f = Number.isInteger(p) ? undefined : op.sqrt(m);
    // Square and multiply over the bits of p's whole part: m, m², m⁴, … multiplied in where set.
    let square = m;
    for (let k = Math.floor(p); k > 0; k >>= 1) {
      if (k & 1) f = f ? op.mul(f, square) : square;
      if (k > 1) square = op.mul(square, square);
    }
    return f;
  }
  return op.pow(m, p);
}

/** d(m^p)/dm = p·m^(p−1): undefined for p = 0 (no term), 1 for p = 1. */
export function powDerivative(m: Value, p: Param): Value | 1 | undefined {
  const ct = m.dtype;
  if (typeof p !== 'number') return op.mul(op.pow(m, op.sub(toType(p, ct), 1)), toType(p, ct));
  if (p === 0) return undefined;
  if (p === 1) return 1;
  if (p === 2) return op.mul(m, 2);
  return op.mul(op.pow(m, p - 1), p);
}

/**
 * log(1 + u) for u ≥ 0, accurate when u is tiny (Goldberg's trick; ONNX has no Log1p): with
 * w = 1 + u as rounded, log1p(u) = u · log(w) / (w − 1), and u itself where w rounds to 1.
 */
export function log1p(u: Value): Value {
  const w = op.add(u, 1);
  const d = op.sub(w, 1);
  return op.where(op.equal(d, 0), u, op.mul(u, op.div(op.log(w), d)));
}

/**
 * log σ(z) and log σ(−z) together: min(±z, 0) − log1p(exp(−|z|)), sharing the log1p term; stable
 * for any z and any float type, and accurate to the last bits for confident z (a plain
 * log(1 + e) would lose log σ(16) ≈ −1.1e-7 to rounding).
 */
export function logSigmoidPair(z: Value): { pos: Value; neg: Value } {
  const l = log1p(op.exp(op.neg(op.abs(z))));
  return { pos: op.sub(op.min(z, 0), l), neg: op.sub(op.min(op.neg(z), 0), l) };
}
