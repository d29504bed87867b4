/** Cloud name → login host, Graph host and token scope. */
import type { CloudName } from './types';

interface CloudEndpoints {
  loginUrl: string;
  graphUrl: string;
}

export const CLOUDS: Readonly<Record<Exclude<CloudName, 'custom'>, CloudEndpoints>> = {
  global: { loginUrl: 'https://login.microsoftonline.com', graphUrl: 'https://graph.microsoft.com' },
  usgov: { loginUrl: 'https://login.microsoftonline.us', graphUrl: 'https://graph.microsoft.us' },
  usgovdod: { loginUrl: 'https://login.microsoftonline.us', graphUrl: 'https://dod-graph.microsoft.us' },
  china: { loginUrl: 'https://login.chinacloudapi.cn', graphUrl: 'https://microsoftgraph.chinacloudapi.cn' },
};

export const CLOUD_NAMES: readonly CloudName[] = ['global', 'usgov', 'usgovdod', 'china', 'custom'];

export function isCloudName(value: unknown): value is CloudName {
  return typeof value === 'string' && (CLOUD_NAMES as readonly string[]).includes(value);
}

/** An https base URL without path, query or trailing slash, or undefined when it is not one. */
export function normaliseBaseUrl(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' || url.username || url.password || url.search || url.hash) return undefined;
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

export function endpointsFor(cloud: CloudName, custom: Partial<CloudEndpoints> = {}): CloudEndpoints | undefined {
  if (cloud !== 'custom') return CLOUDS[cloud];
  const loginUrl = custom.loginUrl ? normaliseBaseUrl(custom.loginUrl) : undefined;
  const graphUrl = custom.graphUrl ? normaliseBaseUrl(custom.graphUrl) : undefined;
  return loginUrl && graphUrl ? { loginUrl, graphUrl } : undefined;
}

/** Client credentials always ask for the app's static permissions on Graph: `<graph>/.default`. */
export function graphScope(graphUrl: string): string {
  return `${graphUrl}/.default`;
}

/**
 * Graph hosts without upload sessions for mail attachments: Microsoft's national-cloud table for
 * `attachment: createUploadSession` marks US Government L4 (GCC High) and L5 (DoD) as not available
 * (https://learn.microsoft.com/graph/api/attachment-createuploadsession). Mails that need one fail
 * there before a draft is made.
 */
const NO_UPLOAD_SESSIONS = new Set(['graph.microsoft.us', 'dod-graph.microsoft.us']);

export function hasUploadSessions(graphUrl: string): boolean {
  try {
    return !NO_UPLOAD_SESSIONS.has(new URL(graphUrl).hostname.toLowerCase());
  } catch {
    return true;
  }
}
