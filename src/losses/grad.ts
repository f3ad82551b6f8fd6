/**
 * d(loss)/d(pred), built analytically in the graph (ONNX has no autodiff): the output `grad`, shaped
 * like `pred`. For reduction `none` it is the gradient of the sum of the elements (what a training
 * loop back-propagates), for `mean` that divided by the element count (read from the shape at run
 * time: N is symbolic).
 *
 * Per element, with c = clamp(p_t, eps, 1), m = 1 − c, λ = −log c ≥ 0 and α_t as in the loss:
 *
 *     L = −α_t · m^γ · log c
 *     dL/dc = α_t[γ m^(γ−1) log c − m^γ / c] = −α_t · m^γ · (γρ + 1/c),   ρ = λ/m = log c / (c − 1)
 *
 * ρ ∈ [1, ∞) is the slowly varying ratio −log(1 − m)/m (ρ = 1 at c = 1), so no negative power of m
 * appears: the naive m^(γ−1) · log c is 0 · ∞ at c = 1 for 0 < γ < 1. ρ is computed as
 * log(c)/(c − 1) from the rounded c: Goldberg's log1p trick — the ratio is exact to a few ulps even
 * when c = 1 − p has lost p's low bits (binary probs, target 0, p tiny), where log(c) alone is not.
 *
 * probs, binary / multi-label: p_t = (1 − t) + s·p with s = 2t − 1, so dL/dp = s · [mask] · dL/dc.
 * probs, multi-class: p_t = p[t], so dL/dp_j = [j = t] · [mask] · dL/dc.
 *
 * logits work in the log domain, as the loss does: with z = s·x (binary), log p_t = log σ(z) and
 * d log p_t/dz = σ(−z) = m, dm/dz = −c·m, so (no division, no negative power, stable for any z):
 *
 *     G = dL/dz = c·m·dL/dc = α_t[γ m^γ c log c − m^(γ+1)] = −α_t · m^γ · (m + γ·c·λ)
 *
 * binary / multi-label: dL/dx = s·G, with c = exp(log σ(z)) and m = exp(log σ(−z)) from the
 * stable log-sigmoid (each accurate to a few ulps; onnxruntime's float32 Sigmoid is not, relatively,
 * far in the tails).
 * multi-class: log p_t = x_t − logsumexp(x), d log p_t/dx_j = [j = t] − p_j, and m = 1 − p_t moves
 * with it, so dL/dx_j = ([j = t] − p_j) · dL/d(log p_t) = ([j = t] − p_j) · G/m. For j = t that is
 * G; for j ≠ t it is −q_j·G with q_j = p_j / Σ_{k≠t} p_k (the softmax over the other classes). So
 * dL/dx = G · (onehot − q), and m is taken as Σ_{k≠t} p_k (accurate relative to itself, unlike
 * 1 − p_t near p_t = 1). q is others / max(m, 1e-30): where every other class underflows, q = 0 and
 * G ≈ 0.
 *
 * The clamp, as PyTorch's: the gradient passes where eps ≤ p_t ≤ 1, both bounds included
 * (`clamp_backward`: (x >= min) & (x <= max)), and is 0 outside. The graph tests exactly that: the
 * mask is Clip(p_t, eps, 1) = p_t, and for logits Clip(log p_t, log eps, 0) = log p_t (the same
 * Clip the loss applies; log p_t ≤ 0 always holds). eps = 0 with logits: no clamp, no mask.
 *
 * At p_t = 1 exactly the gradient is the true limit: 0 for γ > 0, −α_t·s for γ = 0 (probs). PyTorch
 * agrees for γ = 0 and γ ≥ 1 and gives NaN for 0 < γ < 1 (0 · ∞ in pow's backward: 0^(γ−1) times
 * log 1 = 0); the graph returns the finite limit there (the fixtures leave those elements out).
 * Logits never reach a 0 · ∞: m^γ with m = exp(log σ(−z)) > 0 until it underflows, and then 0.
 *
 * Accuracy against PyTorch autograd in float64 on the golden cases (relative to the largest
 * component): float64 graphs 6e-15, float32 graphs 4.5e-7 (a multi-class logits case: LogSoftmax and
 * Exp round at ~1e-7 each). With ρ taken as −log(c)/m instead, float32 would reach 1.0e-6 (a binary
 * probs case with target 0 and p = 0.0035, where c = 1 − p has rounded).
 */
import { Value, op } from '../onnx';
import { binaryGradient, softBinaryGradient } from './binary';
import { LossParams, weightLike } from './focal';
import { multiclassGradient, softMulticlassGradient } from './multiclass';
import { FocalOptions, hasTerms, usesSoftForm } from './options';
import { GradContext } from './terms';

// ---- the detection and segmentation terms (terms.ts) -----------------------------------------------
//
// With w·π_t the class × positive weight, valid the mask of targets not ignored, F the focal factor
// (reduced: ((1 − c)/X)^γ where c ≥ X, else 1, so its γ-terms vanish there: γ_eff = 0) and D the
// divisor of the mean:
//
//     l_i = w·π·(−α_t)·F·log c          dl/dc = −α_t·w·π·F·(γ_eff·ρ + 1/c)      (probs)
//                                       dl/dz = −α_t·w·π·F·(m + γ_eff·c·λ)      (logits, z = s·x)
//     FL*: l = −α_t·w·π·log σ(γz)/γ,    dl/dz = −α_t·w·π·σ(−γz)
//     normalized: L = Σ l / S with S = max(Σ_valid F, 1e-6):
//         dL/dx_i = (dl_i/dx_i)/S − (Σ l)/S² · dF_i/dx_i,
//         dF/dc = −γ_eff·F/m = −γ_eff·m^(γ−1)/X^γ (probs),  dF/dz = −γ_eff·F·c (logits)
//
// then × valid (ignored: 0) and ÷ D for the mean. Multi-class logits use the same G-space as the
// plain gradient: dh/dx = m·h'(log p_t)·(onehot − q) for any h of log p_t.
//
// Where each piece lives: the focal term's gradient beside the term (focal.ts, focalTermGradProbs /
// focalTermGradLogits), the terms' and the reduction's beside applyTerms (terms-graph.ts,
// termsGradient) and reduce (focal.ts, reduceDivisor), FL*'s beside it (terms-graph.ts), each form's
// chain rule beside the form (binary.ts, multiclass.ts).

/**
 * The gradient output (compute type, shaped like `x`), for `x` already in the compute type.
 *
 * The weight input, the labels' mean and the reductions are multipliers on each element's
 * gradient (w does not depend on pred): w · s, with s = 1/count for mean, 1/(count · mean(w)) for
 * weighted-mean (Σ w·l / Σ w over the broadcast weights), 1 for sum and none, each times 1/L with
 * `labelMean` but for the means, whose count is already N·L.
 */
export function focalGradient(x: Value, target: Value, o: FocalOptions, p: LossParams, ctx: GradContext): Value {
  // The terms work on hard targets (and FL* on soft ones, which its hard form's gradient covers).
  const soft = usesSoftForm(o) && !hasTerms(o);
  let grad: Value;
  if (o.task === 'multiclass') grad = soft ? softMulticlassGradient(x, target, o, p, ctx) : multiclassGradient(x, o, p, ctx);
  else grad = soft ? softBinaryGradient(x, target, o, p, ctx) : binaryGradient(x, o, p, ctx);
  return p.weight ? op.mul(grad, weightLike(p.weight, grad, p.labelTail)) : grad;
}
