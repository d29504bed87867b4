/**
 * The one leak scan of the tests: whatever came out of the nodes (outputs, statuses, log text, HTTP
 * answers, stored flows, the editor's page) must hold no secret material.
 */
import { SANDBOX } from '../../sandbox/config';

/** Every client secret the sandbox's apps accept: none may come out, whichever one a test used. */
const SANDBOX_SECRETS: readonly string[] = [
  SANDBOX.clientSecret,
  SANDBOX.expiredClientSecret,
  SANDBOX.noConsentClientSecret,
  SANDBOX.noMailSendClientSecret,
  SANDBOX.mailSendOnlyClientSecret,
];

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
function findLeaks(haystacks: readonly unknown[], needles: readonly string[]): string[] {
  const text = haystacks.map((h) => (typeof h === 'string' ? h : serialise(h))).join('\n');
  return needles.filter((needle) => needle.length >= 8 && (text.includes(needle) || text.includes(Buffer.from(needle).toString('base64'))));
}

/**
 * Fails, naming what it found, when any haystack holds a sandbox client secret, a token `issuer`
 * (the sandbox) issued, or one of `extra` (a wrong secret, a proxy password, a private key's lines).
 */
export function expectNoLeaks(haystacks: readonly unknown[], issuer: { issuedTokens(): string[] } | null, extra: readonly string[] = []): void {
  expect(findLeaks(haystacks, [...SANDBOX_SECRETS, ...(issuer?.issuedTokens() ?? []), ...extra])).toEqual([]);
}
