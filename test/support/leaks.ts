/** Scans whatever came out of the nodes for secret material. */

function serialise(value: unknown): string {
  const seen = new WeakSet<object>();
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'object' && v !== null) {
      if (seen.has(v)) return '[circular]';
      seen.add(v);
    }
    if (v instanceof Error) return { ...v, message: v.message, stack: v.stack };
    return v;
  });
}

/** The needles found in any of the haystacks (each needle also checked in base64 form). */
export function findLeaks(haystacks: unknown[], needles: readonly string[]): string[] {
  const text = haystacks.map((h) => (typeof h === 'string' ? h : serialise(h))).join('\n');
  return needles.filter((needle) => needle.length >= 8 && (text.includes(needle) || text.includes(Buffer.from(needle).toString('base64'))));
}
