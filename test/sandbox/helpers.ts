/** Small helpers shared by the sandbox tests: an axios client, tokens, a valid message. */
import https from 'node:https';
import axios from 'axios';
import type { AxiosInstance, AxiosResponse } from 'axios';
import { SANDBOX } from '../../sandbox/config';
import { startSandbox, type Sandbox } from '../../sandbox';

export interface Client {
  http: AxiosInstance;
  agent: https.Agent;
}

export interface SandboxContext {
  sandbox: Sandbox;
  c: Client;
  /** A Graph token of the main app; empty unless asked for. */
  token: string;
}

/**
 * One sandbox and client per test file, reset before each test. The context's fields are set in
 * beforeAll; the returned object is filled in place.
 */
export function useSandboxClient(options: { token?: boolean } = {}): SandboxContext {
  const ctx = {} as SandboxContext;
  beforeAll(async () => {
    ctx.sandbox = await startSandbox();
    ctx.c = clientFor(ctx.sandbox);
    ctx.token = options.token ? await tokenFor(ctx.c, ctx.sandbox) : '';
  });
  afterAll(async () => {
    ctx.c.agent.destroy();
    await ctx.sandbox.close();
  });
  beforeEach(() => ctx.sandbox.reset());
  return ctx;
}

/** An axios instance on the sandbox that never throws on a status (tests assert on it). */
export function clientFor(sandbox: Sandbox, agentOptions: https.AgentOptions = { keepAlive: true }): Client {
  const agent = new https.Agent({ ca: sandbox.caPem, ...agentOptions });
  const http = axios.create({
    baseURL: sandbox.url,
    httpsAgent: agent,
    validateStatus: () => true,
    maxRedirects: 0,
    // Large bodies (413 and upload tests) must not be refused client-side.
    maxBodyLength: Infinity,
    maxContentLength: Infinity,
  });
  return { http, agent };
}

export function tokenRequest(
  c: Client,
  sandbox: Sandbox,
  fields: Record<string, string | undefined> = {},
  tenant: string = SANDBOX.tenantId,
  headers: Record<string, string> = {},
): Promise<AxiosResponse<Record<string, unknown>>> {
  const form = new URLSearchParams();
  const all: Record<string, string | undefined> = {
    grant_type: 'client_credentials',
    client_id: SANDBOX.applicationId,
    client_secret: SANDBOX.clientSecret,
    scope: `${sandbox.url}/.default`,
    ...fields,
  };
  for (const [k, v] of Object.entries(all)) if (v !== undefined) form.set(k, v);
  return c.http.post(`/${encodeURIComponent(tenant)}/oauth2/v2.0/token`, form.toString(), {
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
  });
}

export async function tokenFor(c: Client, sandbox: Sandbox, clientId: string = SANDBOX.applicationId, secret: string = SANDBOX.clientSecret): Promise<string> {
  const res = await tokenRequest(c, sandbox, { client_id: clientId, client_secret: secret });
  if (res.status !== 200) throw new Error(`token request failed: ${res.status} ${JSON.stringify(res.data)}`);
  return res.data.access_token as string;
}

export function decodePayload(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8')) as Record<string, unknown>;
}

export function decodeHeader(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString('utf8')) as Record<string, unknown>;
}

export function recipients(...addresses: string[]): { emailAddress: { address: string } }[] {
  return addresses.map((address) => ({ emailAddress: { address } }));
}

/** A message Graph accepts, with overrides merged on top. */
export function message(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    subject: 'Sandbox test',
    body: { contentType: 'text', content: 'Hello from the sandbox tests.' },
    toRecipients: recipients('ada@example.com'),
    ...overrides,
  };
}

export function sendMail(
  c: Client,
  token: string,
  body: unknown,
  mailbox: string = SANDBOX.senderEmail,
  headers: Record<string, string> = {},
): Promise<AxiosResponse<{ error?: { code: string; message: string; innerError: Record<string, string> } }>> {
  return c.http.post(`/v1.0/users/${encodeURIComponent(mailbox)}/sendMail`, body, {
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
  });
}
