/** Kubernetes resource quantities (`2Gi`, `512Mi`, `1.5G`, `129e6`, `500m`) as plain numbers. */

const SUFFIX_MULTIPLIERS: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

// `E` alone is the exa suffix, `E3` an exponent: the regex tries the suffix first and backtracks to the exponent.
const QUANTITY = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE]([+-]?\d+))?$/;

/**
 * Parses a Kubernetes quantity into its numeric value, in base units (bytes for memory, cores for cpu).
 *
 * Accepts binary suffixes (`Ki`…`Ei`), decimal suffixes (`n`, `u`, `m`, `k`, `M`…`E`) and decimal exponents (`129e6`).
 * A number (as YAML or JSON may give) is returned as is.
 *
 * @throws Error naming the value when it is not a quantity
 */
export function parseQuantity(value: string | number): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`invalid quantity ${String(value)}`);
    return value;
  }
  const match = QUANTITY.exec(value.trim());
  if (!match) throw new Error(`invalid quantity "${value}": expected a number with an optional suffix like 512Mi`);
  const [, number = '', suffix, exponent] = match;
  const base = Number(number);
  if (exponent !== undefined) return base * 10 ** Number(exponent);
  return base * (SUFFIX_MULTIPLIERS[suffix ?? ''] ?? 1);
}

/**
 * Parses a memory quantity into whole bytes, rounding a fractional result up as Kubernetes does (`0.5` → 1).
 *
 * @throws Error naming the value when it is not a quantity
 */
export function parseMemoryBytes(value: string | number): number {
  // Rounding first absorbs float noise such as 1.1 * 2 ** 30 landing a hair above the integer.
  const bytes = parseQuantity(value);
  const rounded = Math.round(bytes);
  return Math.abs(bytes - rounded) < 1e-6 ? rounded : Math.ceil(bytes);
}
