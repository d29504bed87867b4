/** The sandbox's HTTP/2 option: one h2 session carries the token request and sendMail; HTTP/1.1 clients are still served. */
import http2 from 'node:http2';
import https from 'node:https';
import { startSandbox, type Sandbox } from '../../sandbox';
import { SANDBOX } from '../../sandbox/config';

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, http2: true });
});
afterAll(async () => {
  await sandbox.close();
});

function h2(session: http2.ClientHttp2Session, method: string, path: string, body: string, headers: Record<string, string>): Promise<{ status: number; text: string; alpn: string }> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':method': method, ':path': path, ...headers });
    let status = 0;
    let text = '';
    req.on('response', (h) => (status = Number(h[':status'])));
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (text += chunk));
    req.on('end', () => resolve({ status, text, alpn: session.alpnProtocol ?? '' }));
    req.on('error', reject);
    req.end(body);
  });
}

it('answers the token endpoint and sendMail over one HTTP/2 session', async () => {
  const session = http2.connect(sandbox.url, { ca: sandbox.caPem });
  try {
    const form = new URLSearchParams({ client_id: SANDBOX.applicationId, client_secret: SANDBOX.clientSecret, scope: `${sandbox.url}/.default`, grant_type: 'client_credentials' }).toString();
    const token = await h2(session, 'POST', `/${SANDBOX.tenantId}/oauth2/v2.0/token`, form, { 'content-type': 'application/x-www-form-urlencoded' });
    expect(token.alpn).toBe('h2');
    expect(token.status).toBe(200);
    const accessToken = (JSON.parse(token.text) as { access_token: string }).access_token;
    const mail = JSON.stringify({ message: { subject: 'over h2', body: { contentType: 'Text', content: 'x' }, toRecipients: [{ emailAddress: { address: 'ada@example.com' } }] } });
    const sent = await h2(session, 'POST', `/v1.0/users/${SANDBOX.senderEmail}/sendMail`, mail, { 'content-type': 'application/json', authorization: `Bearer ${accessToken}` });
    expect(sent.status).toBe(202);
    expect(sandbox.mail(SANDBOX.senderEmail).map((m) => m.message.subject)).toEqual(['over h2']);
    expect(sandbox.stats().tlsConnections).toBe(1);
  } finally {
    session.close();
  }
});

it('still serves HTTP/1.1 clients', async () => {
  const status = await new Promise<number>((resolve, reject) => {
    const req = https.request(`${sandbox.url}/${SANDBOX.tenantId}/oauth2/v2.0/token`, { method: 'POST', ca: sandbox.caPem, headers: { 'content-type': 'application/x-www-form-urlencoded' } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end(new URLSearchParams({ client_id: SANDBOX.applicationId, client_secret: SANDBOX.clientSecret, scope: `${sandbox.url}/.default`, grant_type: 'client_credentials' }).toString());
  });
  expect(status).toBe(200);
});
