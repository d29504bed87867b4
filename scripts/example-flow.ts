/** The package's example flow with its connection pointed at the sandbox (npm start, e2e tests). */
import fs from 'node:fs';
import path from 'node:path';
import { SANDBOX } from '../sandbox/config';

export type FlowNode = Record<string, unknown> & { id: string; type: string };

export const EXAMPLE_FILE = path.join(__dirname, '..', 'examples', 'send-from-http-endpoint.json');

export function sandboxExampleFlow(sandboxUrl: string, clientSecret: string = SANDBOX.clientSecret): FlowNode[] {
  const flow = JSON.parse(fs.readFileSync(EXAMPLE_FILE, 'utf8')) as FlowNode[];
  return flow.map((n) =>
    n.type === 'office365-mail-connection'
      ? {
          ...n,
          key: 'sandbox',
          name: 'Sandbox (local Microsoft 365 stand-in)',
          tenantId: SANDBOX.tenantId,
          applicationId: SANDBOX.applicationId,
          senderEmail: SANDBOX.senderEmail,
          cloud: 'custom',
          loginUrl: sandboxUrl,
          graphUrl: sandboxUrl,
          credentials: { clientSecret },
        }
      : n,
  );
}

/** The path of the example's `http in` node. */
export function endpointPath(flow: FlowNode[]): string {
  const httpIn = flow.find((n) => n.type === 'http in');
  return String(httpIn?.url ?? '/send-mail');
}
