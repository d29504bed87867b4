/**
 * MSAL keeps its own throttle: after an answer with Retry-After it refuses further requests for a
 * while without sending them. That refusal is a wait, not a credentials problem, so it must come
 * out as a retryable `throttled` failure. Real MSAL against the sandbox's token endpoint.
 */
import { startSandbox, type Sandbox } from '../../sandbox';
import { SANDBOX } from '../../sandbox/config';
import { createHttpClient, type HttpClient } from '../../nodes/lib/http';
import { TokenProvider } from '../../nodes/lib/token';

let sandbox: Sandbox;
let http: HttpClient;
beforeAll(async () => {
  sandbox = await startSandbox({ port: 0 });
});
afterAll(async () => {
  await sandbox.close();
});
beforeEach(() => {
  sandbox.reset();
  http = createHttpClient();
});
afterEach(() => http.destroy());

function provider(): TokenProvider {
  return new TokenProvider(
    { tenantId: SANDBOX.tenantId, applicationId: SANDBOX.applicationId, clientSecret: SANDBOX.clientSecret, loginUrl: sandbox.url, graphUrl: sandbox.url },
    http,
  );
}

it("MSAL's own throttle (no request sent) → throttled, retryable; the credentials are not blamed", async () => {
  const tokens = provider();
  // A 400 carrying Retry-After is what makes MSAL cache a throttle for that long.
  sandbox.addFault({ target: 'token', status: 400, code: 'invalid_request', aadsts: 90014, retryAfter: '60' });
  await expect(tokens.getToken()).rejects.toMatchObject({ category: 'auth', status: 400, retryable: false });
  expect(tokens.tokenRequests).toBe(1);
  await expect(tokens.getToken()).rejects.toMatchObject({ category: 'throttled', code: 'TokenThrottled', retryable: true });
  // Refused by MSAL itself: the endpoint saw one request only.
  expect(tokens.tokenRequests).toBe(1);
  expect(sandbox.stats().tokenRequests).toBe(1);
});

it('a 503 from the token endpoint is handed to us, not to MSAL, so the next try is a real request', async () => {
  const tokens = provider();
  sandbox.addFault({ target: 'token', status: 503, retryAfter: '60' });
  await expect(tokens.getToken()).rejects.toMatchObject({ category: 'server', status: 503, retryable: true, retryAfterSeconds: 60 });
  await expect(tokens.getToken()).resolves.toMatchObject({ roles: expect.arrayContaining(['Mail.Send']) });
  expect(sandbox.stats().tokenRequests).toBe(2);
});
