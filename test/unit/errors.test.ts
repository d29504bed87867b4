import { aadstsFrom, entraDescription, entraError, graphError, networkError, redact } from '../../nodes/lib/errors';
import { userSegment } from '../../nodes/lib/graph';
import { retryAfterSeconds, transportFailure } from '../../nodes/lib/http';
import { AxiosError } from 'axios';

describe('error classification', () => {
  it.each([
    [7000215, 'auth', 'invalidSecret'],
    [7000222, 'auth', 'expiredSecret'],
    [700016, 'auth', 'appNotInTenant'],
    [90002, 'auth', 'tenantNotFound'],
    [900023, 'auth', 'tenantInvalid'],
  ])('AADSTS%i → %s / %s', (aadsts, category, hintKey) => {
    const error = entraError({ aadsts, description: `AADSTS${aadsts}: text\r\nTrace ID: x`, status: 400 }, []);
    expect(error).toMatchObject({ category, hintKey, aadsts, code: `AADSTS${aadsts}` });
    expect(error.detail).toBe(`AADSTS${aadsts}: text`);
  });

  it('reads AADSTS numbers from text', () => {
    expect(aadstsFrom('AADSTS7000215: Invalid client secret')).toBe(7000215);
    expect(aadstsFrom('nothing')).toBeUndefined();
  });

  it.each([
    ['ErrorAccessDenied', 403, 'permission', 'accessDenied'],
    ['ErrorInvalidUser', 404, 'mailbox', 'senderNotFound'],
    ['ResourceNotFound', 404, 'mailbox', 'senderNotFound'],
    ['MailboxNotEnabledForRESTAPI', 404, 'mailbox', 'mailboxNotEnabled'],
    ['ErrorInvalidRecipients', 400, 'recipient', 'invalidRecipients'],
    ['NoPermissionsInAccessToken', 401, 'permission', 'noRoles'],
    ['SomethingNew', 503, 'server', 'graphUnavailable'],
  ])('Graph %s (%i) → %s / %s', (graphCode, status, category, hintKey) => {
    expect(graphError({ status, graphCode }, [])).toMatchObject({ category, hintKey, graphCode, status });
  });

  it('marks 429, 503 and 504 retryable and keeps Retry-After', () => {
    expect(graphError({ status: 429, retryAfterSeconds: 3 }, [])).toMatchObject({ category: 'throttled', retryable: true, retryAfterSeconds: 3 });
    expect(graphError({ status: 504 }, []).retryable).toBe(true);
    expect(graphError({ status: 400 }, []).retryable).toBe(false);
  });

  it.each([
    ['ErrorMessageSubmissionBlocked', 403],
    ['SubmissionQuotaExceeded', 403],
    ['SubmissionQuotaExceeded', 429],
  ])('Exchange blocked the mailbox: %s (%i) is a mailbox state with its own hint, never a permission problem, never retried', (graphCode, status) => {
    const error = graphError({ status, graphCode, retryAfterSeconds: 60 }, []);
    expect(error).toMatchObject({ category: 'mailbox', hintKey: 'submissionBlocked', retryable: false });
  });

  it('tells a connection refused from a mail that may have been sent', () => {
    expect(networkError({ code: 'ECONNREFUSED', maybeSent: false, host: 'h' }, 'graph')).toMatchObject({ category: 'network', retryable: true });
    expect(networkError({ code: 'ECONNRESET', maybeSent: true, host: 'h' }, 'graph')).toMatchObject({ category: 'unknown-outcome', retryable: false });
    expect(networkError({ code: 'ECONNRESET', maybeSent: true, host: 'h' }, 'token')).toMatchObject({ category: 'network' });
    expect(networkError({ code: 'SELF_SIGNED_CERT_IN_CHAIN', maybeSent: false, host: 'h' }, 'graph')).toMatchObject({ category: 'network', hintKey: 'tls' });
  });

  it('reads transport failures from axios errors', () => {
    const refused = new AxiosError('connect ECONNREFUSED', 'ECONNREFUSED');
    expect(transportFailure(refused, 'https://graph.example.test/v1.0')).toEqual({ code: 'ECONNREFUSED', maybeSent: false, host: 'graph.example.test' });
    const timeout = new AxiosError('timeout of 10ms exceeded', 'ECONNABORTED');
    expect(transportFailure(timeout, 'https://g.test/')).toMatchObject({ code: 'ETIMEDOUT', maybeSent: true });
  });

  it('redacts secrets, bearer tokens and JWTs', () => {
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJyb2xlcyI6WyJNYWlsLlNlbmQiXX0.c2lnbmF0dXJl';
    const text = redact(`secret s3cr3t-value, Authorization: Bearer abc.def and ${jwt}`, ['s3cr3t-value']);
    expect(text).not.toContain('s3cr3t-value');
    expect(text).not.toContain('abc.def');
    expect(text).not.toContain(jwt);
  });

  it('reads Retry-After in seconds and as an HTTP date', () => {
    expect(retryAfterSeconds('5')).toBe(5);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterSeconds('Thu, 01 Jan 2026 00:00:10 GMT', now)).toBe(10);
    expect(retryAfterSeconds('soon')).toBeUndefined();
  });
});

describe('Graph paths', () => {
  it('keeps @ in the user segment and encodes what must be', () => {
    expect(userSegment('alerts@contoso.com')).toBe('alerts@contoso.com');
    expect(userSegment("o'brien/x@contoso.com")).toBe("o'brien%2Fx@contoso.com");
  });
});

describe('entraDescription', () => {
  const sentence = "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app 'x'.";
  it("keeps Entra's sentence from MSAL's one-line frame", () => {
    const framed = `Error(s): 7000215 - Timestamp: 2026-11-28 14:18:17Z - Description: ${sentence} Trace ID: e0d7 Correlation ID: e0d7 Timestamp: 2026-11-28 14:18:17Z - Correlation ID: e0d7 - Trace ID: e0d7`;
    expect(entraDescription(framed)).toBe(sentence);
  });
  it("keeps Entra's sentence from its own multi-line description", () => {
    expect(entraDescription(`${sentence}\r\nTrace ID: a\r\nCorrelation ID: b\r\nTimestamp: c`)).toBe(sentence);
  });
});
