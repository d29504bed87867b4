/** The credential's expiry: the date the user gives, or the certificate's own; warnings from 30 days before. */
import { credentialExpiry, parseDay, watchExpiry, type CredentialExpiry } from '../../nodes/lib/expiry';
import { readConnectionSettings } from '../../nodes/lib/settings';
import { noEnv, validConnection } from '../support/connection-config';

const now = new Date('2026-12-01T06:00:00Z');

describe('secretExpiresOn', () => {
  it('is read as a calendar date; anything else is a deploy problem naming the field', () => {
    const ok = readConnectionSettings({ ...validConnection, secretExpiresOn: '2027-03-31' }, { clientSecret: 's' }, noEnv);
    expect(ok.settings?.secretExpiresOn).toBe('2027-03-31');
    expect(readConnectionSettings(validConnection, { clientSecret: 's' }, noEnv).settings?.secretExpiresOn).toBeUndefined();
    for (const bad of ['2027-02-30', '31.03.2027', '2027-3-31', 'soon']) {
      expect(readConnectionSettings({ ...validConnection, secretExpiresOn: bad }, { clientSecret: 's' }, noEnv).problems).toEqual([{ field: 'secretExpiresOn', key: 'invalidDate' }]);
    }
    expect(parseDay('2028-02-29')?.toISOString()).toBe('2028-02-29T00:00:00.000Z');
  });

  it('counts whole days left and warns from 30 days before', () => {
    expect(credentialExpiry({ secretExpiresOn: '2026-12-13' }, now)).toEqual({ date: '2026-12-13', days: 12, warn: true });
    expect(credentialExpiry({ secretExpiresOn: '2026-12-31' }, now)).toEqual({ date: '2026-12-31', days: 30, warn: true });
    expect(credentialExpiry({ secretExpiresOn: '2027-01-01' }, now)?.warn).toBe(false);
    expect(credentialExpiry({ secretExpiresOn: '2026-11-30' }, now)).toEqual({ date: '2026-11-30', days: -1, warn: true });
    expect(credentialExpiry({}, now)).toBeUndefined();
  });

  it("with certificate sign-in and no date, the certificate's notAfter serves; a given date wins", () => {
    const clientCertificate = { notAfter: new Date('2026-12-21T12:00:00Z') } as NonNullable<Parameters<typeof credentialExpiry>[0]['clientCertificate']>;
    expect(credentialExpiry({ clientCertificate }, now)).toEqual({ date: '2026-12-21', days: 21, warn: true });
    expect(credentialExpiry({ clientCertificate, secretExpiresOn: '2027-06-01' }, now)?.date).toBe('2027-06-01');
  });
});

describe('watchExpiry', () => {
  afterEach(() => jest.useRealTimers());

  it('warns at once and then once a day while within the period; stopping clears the timer', () => {
    jest.useFakeTimers();
    let expiry: CredentialExpiry | undefined = { date: '2026-12-13', days: 12, warn: true };
    const warned: CredentialExpiry[] = [];
    const stop = watchExpiry(() => expiry, (e) => warned.push(e), 1000);
    expect(warned).toHaveLength(1);
    jest.advanceTimersByTime(999);
    expect(warned).toHaveLength(1);
    jest.advanceTimersByTime(1);
    expect(warned).toHaveLength(2);
    expiry = { date: '2027-12-13', days: 377, warn: false };
    jest.advanceTimersByTime(1000);
    expect(warned).toHaveLength(2);
    stop();
    expect(jest.getTimerCount()).toBe(0);
  });
});
