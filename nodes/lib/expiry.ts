/**
 * When the connection's credential stops working: the `secretExpiresOn` date the user gives (client
 * secrets last at most 24 months, and their expiry is the usual cause of a sudden AADSTS7000222),
 * else a certificate's own notAfter. From 30 days before, the nodes say so.
 */
import type { ConnectionSettings } from './types';

export const EXPIRY_WARNING_DAYS = 30;
const DAY_MS = 24 * 60 * 60 * 1000;

export interface CredentialExpiry {
  /** `YYYY-MM-DD` (UTC). */
  date: string;
  /** Whole days left, rounded up; 0 or less once the day has come. */
  days: number;
  /** Within the warning period (or already expired). */
  warn: boolean;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A `YYYY-MM-DD` calendar date as UTC midnight, or undefined when it is not a real date. */
export function parseDay(value: string): Date | undefined {
  const m = DATE.exec(value);
  if (!m) return undefined;
  const date = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return date.toISOString().slice(0, 10) === value ? date : undefined;
}

/** The expiry of the connection's credential, if known, as seen at `now`. */
export function credentialExpiry(settings: Pick<ConnectionSettings, 'secretExpiresOn' | 'clientCertificate'>, now: Date = new Date()): CredentialExpiry | undefined {
  const given = settings.secretExpiresOn ? parseDay(settings.secretExpiresOn) : undefined;
  const at = given ?? settings.clientCertificate?.notAfter;
  if (!at) return undefined;
  const days = Math.ceil((at.getTime() - now.getTime()) / DAY_MS);
  return { date: at.toISOString().slice(0, 10), days, warn: days <= EXPIRY_WARNING_DAYS };
}

/**
 * Calls `warn` now and then once a day while the credential is within its warning period. Returns
 * the function that stops it (the connection's close). The timer does not keep Node alive.
 */
export function watchExpiry(check: () => CredentialExpiry | undefined, warn: (expiry: CredentialExpiry) => void, intervalMs = DAY_MS): () => void {
  const run = (): void => {
    const expiry = check();
    if (expiry?.warn) warn(expiry);
  };
  run();
  const timer = setInterval(run, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
