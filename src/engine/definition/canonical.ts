/**
 * Canonical JSON: object keys sorted, no whitespace, -0 as 0, no undefined. Two values that mean
 * the same serialise to the same bytes, so the stage key does not depend on key order.
 *
 * Written as one recursive pass (no intermediate copies): planning serialises every stage's key
 * parts, and this is on the path of every fully cached run.
 */
export function canonicalJson(value: unknown): string {
  return write(value, false) ?? 'null';
}

/** The canonical text of `value`; undefined for an object member that is to be left out. */
function write(value: unknown, inObject: boolean): string | undefined {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`cannot hash the non-finite number ${value}`);
      return Object.is(value, -0) ? '0' : String(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'undefined':
      return inObject ? undefined : 'null';
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) return `[${value.map((v) => write(v, false)).join(',')}]`;
      const parts: string[] = [];
      for (const k of Object.keys(value).sort()) {
        const v = write((value as Record<string, unknown>)[k], true);
        if (v !== undefined) parts.push(`${JSON.stringify(k)}:${v}`);
      }
      return `{${parts.join(',')}}`;
    }
    default:
      throw new TypeError(`cannot hash a ${typeof value}`);
  }
}

export function deepEqual(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}
