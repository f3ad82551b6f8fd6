/**
 * −α_t, written once: the class-balancing weight of each element, negated (the loss is
 * −α_t · F · log p_t), or −1 when α is none.
 *
 * α is a number, a per-label / per-class list, or a value (a function attribute, scalar or
 * vector). Its two signed forms, −α (the positive class, or every class of the multi-class loss)
 * and α − 1 (the negative class of a sigmoid loss), are folded here: numbers stay numbers, lists
 * become typed constants, a value is cast once to the compute type and negated in the graph. How
 * the per-element α_t is then selected depends on how the loss holds its target:
 *
 * - `sigmoid` (binary / multi-label, 0/1 or soft target t, u = 1 − t): t·(−α) + u·(α − 1), exact
 *   for 0/1 targets (one product is ±0), unlike (α − 1) + t·(1 − 2α), which cancels for t = 1 and
 *   loses the digits of a small α. `fast`: the loss's shortcuts — −u (α = 0), −t (α = 1) and the
 *   two-pass form where it rounds to exactly −α in the compute type (the seed's 0.25);
 * - `mask` (the binary onehot form): the seed's table [α − 1, −α] times the class mask;
 * - `class` (multi-class): −α for every class, or −α_c selected per row (`select`: a Gather by
 *   the target, or the one-hot's masked sum), or the row [C] itself (`select` absent: the soft
 *   form, which weighs each class).
 */
import { DType, Param, Value, op, toType, typed, withTail } from '../onnx';

/** α as the graph sees it: see the top of this file. */
export type Alpha = number | readonly number[] | Value | null;

export type AlphaSelect =
  | { readonly kind: 'sigmoid'; readonly t: Value; readonly u?: Value; readonly fast?: boolean; readonly tail?: number }
  | { readonly kind: 'mask'; readonly like: Value; readonly mask: Value; readonly flatMask: Value; readonly sumClasses: (v: Value) => Value }
  | { readonly kind: 'class'; readonly like: Value; readonly select?: (table: Value) => Value; readonly tail?: number };

/** −α and α − 1 on numbers; on a value (already in the compute type) in the graph. */
const NEG = { num: (a: number): number => -a, val: (a: Value): Value => op.neg(a) };
const MINUS_ONE = { num: (a: number): number => a - 1, val: (a: Value): Value => op.sub(a, 1) };

/** −α_t per element for the task's selection (see the top), in the compute type `ct`; −1 when α is none. */
export function negAlphaT(alpha: Alpha, ct: DType, how: AlphaSelect): Param {
  if (alpha === null) return -1;
  if (how.kind === 'sigmoid' && alpha === 0.5) return -0.5;
  let cast: Value | undefined;
  const value = (a: Value): Value => (cast ??= toType(a, ct));
  // A per-label list broadcasts on the label axis: `tail` axes follow it (sigmoid, labelAxis not last).
  const tail = how.kind === 'sigmoid' || (how.kind === 'class' && !how.select) ? (how.tail ?? 0) : 0;
  /** f(α) as a number, a typed constant (a list) or a value. */
  const signed = (g: Value['graph'], f: typeof NEG): Param => (alpha instanceof Value ? withTail(f.val(value(alpha)), tail) : typed(alpha, g, ct, f.num, tail));

  switch (how.kind) {
    case 'sigmoid': {
      const { t, fast } = how;
      const u = how.u ?? op.sub(1, t);
      if (fast && typeof alpha === 'number') {
        if (alpha === 0) return op.neg(u);
        if (alpha === 1) return op.neg(t);
      }
      if (fast && !(alpha instanceof Value) && twoPassExact(typeof alpha === 'number' ? [alpha] : alpha, ct)) {
        return op.add(op.mul(t, typed(alpha, t.graph, ct, (a) => 1 - 2 * a, tail)), typed(alpha, t.graph, ct, MINUS_ONE.num, tail));
      }
      return op.add(op.mul(t, signed(t.graph, NEG)), op.mul(u, signed(t.graph, MINUS_ONE)));
    }
    case 'mask': {
      const { like, mask, flatMask, sumClasses } = how;
      const g = mask.graph;
      if (typeof alpha === 'number') return op.reshapeLike(op.matMul(g.constant([MINUS_ONE.num(alpha), NEG.num(alpha)], ct, [1, 2]), flatMask), like);
      if (alpha instanceof Value) {
        const a = value(alpha);
        if (a.rank === 0) {
          const row = op.reshape(op.concat([op.unsqueeze(MINUS_ONE.val(a), [0]), op.unsqueeze(NEG.val(a), [0])], 0), [1, 2]);
          return op.reshapeLike(op.matMul(row, flatMask), like);
        }
        // [L] → [2, 1, …, L]: the class axis first, the label axis last, ones between.
        const lift = (v: Value): Value => op.unsqueeze(v, [...Array(mask.rank - a.rank).keys()]);
        return sumClasses(op.mul(op.concat([lift(MINUS_ONE.val(a)), lift(NEG.val(a))], 0), mask));
      }
      const dims = [2, ...Array(mask.rank - 2).fill(1), alpha.length];
      return sumClasses(op.mul(g.constant([...alpha.map(MINUS_ONE.num), ...alpha.map(NEG.num)], ct, dims), mask));
    }
    case 'class': {
      const table = signed(how.like.graph, NEG);
      if (typeof table === 'number' || table.rank === 0 || !how.select) return table;
      return how.select(table);
    }
  }
}

/** Whether (α − 1) + 1·(1 − 2α), each constant and the sum rounded to `ct`, is exactly −α (rounded) for every α. */
function twoPassExact(alphas: readonly number[], ct: string): boolean {
  const r = ct === 'float64' ? (x: number): number => x : Math.fround;
  return alphas.every((a) => r(r(1 - 2 * a) + r(a - 1)) === r(-a));
}
