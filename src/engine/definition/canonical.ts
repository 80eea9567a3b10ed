/**
 * Canonical JSON: object keys sorted, no whitespace, -0 as 0, no undefined. Two values that mean
 * the same serialise to the same bytes, so the stage key does not depend on key order.
 *
 * Written as one recursive pass (no intermediate copies): planning serialises every stage's key
 * parts, and this is on the path of every fully cached run.
 */
export function canonicalJson(value: unknown): string {
  return isPlain(value) ? JSON.stringify(value) : (write(value, false) ?? 'null');
}

const objectPrototype = Object.prototype;
const arrayPrototype = Array.prototype;
const hasOwn = Object.hasOwn;

/**
 * True when `JSON.stringify(value)` is already its canonical JSON: plain data (finite numbers,
 * strings, booleans, null, arrays without holes or undefined, plain objects) whose object keys
 * are in sorted order and hold no undefined, and no toJSON anywhere. That is what stage keys and
 * lock values are made of, and the native serialiser writes it in a fraction of the time: the
 * 1,000 stage keys of a fully cached 1,000-stage sweep took ~10 ms in a fresh process with write()
 * alone, ~6.6 ms with this check in front (median of 7; hashing included). Anything else goes to
 * write(), which decides, words errors and throws as before.
 */
function isPlain(value: unknown): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      // JSON.stringify writes -0 as 0, as write() does.
      return Number.isFinite(value);
    case 'object': {
      if (value === null) return true;
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto === arrayPrototype && Array.isArray(value)) {
        const arr = value as unknown[];
        if (typeof (arr as { toJSON?: unknown }).toJSON === 'function') return false;
        for (let i = 0; i < arr.length; i++) {
          const v = arr[i];
          // A hole, or an undefined element: write() decides.
          if (v === undefined || !isPlain(v)) return false;
        }
        return true;
      }
      if (proto !== objectPrototype || Array.isArray(value)) return false;
      const obj = value as Record<string, unknown>;
      if (typeof obj.toJSON === 'function') return false;
      // for-in visits the own enumerable keys in Object.keys order (the prototype is
      // Object.prototype, and hasOwn turns away anything enumerable added to it): strictly
      // ascending means write()'s sorted order is JSON.stringify's order.
      let previous: string | undefined;
      for (const k in obj) {
        if (!hasOwn(obj, k) || (previous !== undefined && !(previous < k))) return false;
        previous = k;
        const v = obj[k];
        if (v === undefined || !isPlain(v)) return false;
      }
      return true;
    }
    default:
      return false;
  }
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
      // Appended to one string rather than mapped and joined: fewer allocations, and the same
      // bytes (test/engine/canonical.test.ts). Serialising is most of a stage key's cost (~10 of
      // the ~14 ms that 1,000 keys take, the rest is the hash: CPU profile of bench/engine.ts).
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ',';
          const v: unknown = value[i];
          // A hole is written as nothing (as map and join did), an undefined element as null.
          if (v !== undefined || i in value) out += write(v, false);
        }
        return `${out}]`;
      }
      let out = '{';
      for (const k of Object.keys(value).sort()) {
        const v = write((value as Record<string, unknown>)[k], true);
        if (v === undefined) continue;
        if (out.length > 1) out += ',';
        out += `${JSON.stringify(k)}:${v}`;
      }
      return `${out}}`;
    }
    default:
      throw new TypeError(`cannot hash a ${typeof value}`);
  }
}

/**
 * Whether `a` and `b` have the same canonical JSON (`canonicalJson(a) === canonicalJson(b)`),
 * throwing where that would throw.
 *
 * Equal values, the common case, are recognised by one walk over both that allocates nothing;
 * only when that walk is not sure (a difference, or a value canonicalJson may refuse) are both
 * sides serialised. A fully cached 1,000-stage run compares every lock entry with the one it
 * had, and the section with the one before: serialising both sides each time was 80 of its
 * ~700 ms (CPU profile, bench/engine.ts; more with the garbage it made).
 */
export function deepEqual(a: unknown, b: unknown): boolean {
  return sameCanonical(a, b) || canonicalJson(a) === canonicalJson(b);
}

const enumerable = Object.prototype.propertyIsEnumerable;

/**
 * True only when the canonical JSON of `a` and `b` is certainly the same and serialising them
 * certainly does not throw; false when they differ or when in doubt.
 */
function sameCanonical(a: unknown, b: unknown): boolean {
  if (typeof a !== typeof b) return false;
  switch (typeof a) {
    case 'string':
    case 'boolean':
    case 'undefined':
      return a === b;
    case 'number':
      // 0 === -0, and both are written as 0; a non-finite number is left to canonicalJson (it throws).
      return Number.isFinite(a) && a === b;
    case 'object': {
      // (The same object on both sides is walked too: it may hold what canonicalJson refuses.)
      if (a === null || b === null) return a === b;
      if (Array.isArray(a)) {
        if (!Array.isArray(b) || a.length !== b.length) return false;
        for (let i = 0; i < a.length; i++) {
          const v = a[i];
          if (typeof v === 'string') {
            if (v !== b[i]) return false;
            continue;
          }
          // A hole is written as nothing, an undefined element as null: in doubt.
          if (v === undefined && !(i in a && i in b)) return false;
          if (!sameCanonical(v, b[i])) return false;
        }
        return true;
      }
      if (Array.isArray(b)) return false;
      // The members that canonicalJson writes: own enumerable string keys whose value is not
      // undefined. Every such member of `a` must be one of `b` with the same value, and `b` must
      // have no more of them.
      const ra = a as Record<string, unknown>;
      const rb = b as Record<string, unknown>;
      const ka = Object.keys(ra);
      const kb = Object.keys(rb);
      // The same keys in the same order (values built alike, as a lock entry and the one the run
      // makes are): the members are the same set, compared value by value without asking `b`
      // about each key (comparing 1,000 lock entries in a fresh process: ~8.3 ms with
      // propertyIsEnumerable per key, ~6.1 ms so; medians of 15). An undefined value on both
      // sides is left out on both.
      if (ka.length === kb.length) {
        let i = 0;
        while (i < ka.length && ka[i] === kb[i]) i++;
        if (i === ka.length) {
          for (const k of ka) {
            const v = ra[k];
            // Equal strings (digests, most of a lock entry) without a call each.
            if (typeof v === 'string' ? v !== rb[k] : !sameCanonical(v, rb[k])) return false;
          }
          return true;
        }
      }
      let count = 0;
      for (const k of ka) {
        const v = ra[k];
        if (v === undefined) continue;
        if (!enumerable.call(rb, k) || !sameCanonical(v, rb[k])) return false;
        count++;
      }
      for (const k of kb) if (rb[k] !== undefined) count--;
      return count === 0;
    }
    default:
      // function, symbol, bigint: canonicalJson throws.
      return false;
  }
}
