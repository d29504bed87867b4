/**
 * The sandbox's own control surface under `/_sandbox/`: read mail and counters, inject faults,
 * reset, and a small HTML page where a newcomer sees their mail arrive. No auth: the server
 * listens on loopback only, and this surface also refuses any other peer.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { InjectMail, MailboxMessage } from './graph-read';
import type { BlockedMailbox, Fault, FaultAction, FaultTarget, RecordedRequest, SandboxStats, SentMail } from './state';

export interface ControlApi {
  mail(mailbox?: string): SentMail[];
  stats(): SandboxStats;
  requests(): RecordedRequest[];
  faults(): Fault[];
  addFault(fault: Fault): void;
  clearFaults(): void;
  blocked(): Record<string, BlockedMailbox>;
  blockMailbox(mailbox: string, block?: Partial<BlockedMailbox>): void;
  unblockMailbox(mailbox?: string): void;
  reset(): void;
  setLatency(ms: number): void;
  revokeTokens(next: number): void;
  /** False when no app has this id. */
  setAppRoles(applicationId: string, roles: string[]): boolean;
  /** Puts a mail from outside into a mailbox folder; the error text when it cannot. */
  injectMail(mailbox: string, mail: InjectMail): MailboxMessage | string;
  folders(mailbox: string): unknown[] | string;
  messages(mailbox: string, folder?: string): MailboxMessage[] | string;
  /** Forgets the mailbox's delta tokens: their next use answers 410. */
  expireDeltaTokens(mailbox: string): number | string;
  info(): { url: string; tenantId: string; tenantDomain: string; applicationId: string; senderEmail: string };
}

const TARGETS: FaultTarget[] = ['token', 'sendMail', 'graph', 'upload'];
const ACTIONS: FaultAction[] = ['respond', 'reset-before', 'reset-after', 'hang'];
const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

function send(res: ServerResponse, status: number, body: string, type = 'application/json; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}

const BLOCK_CODES: BlockedMailbox['code'][] = ['ErrorMessageSubmissionBlocked', 'SubmissionQuotaExceeded'];

/** `{ mailbox, code?, status?, retryAfter? }` from JSON, or what is wrong with it. */
export function parseBlock(value: unknown): { mailbox: string; block: Partial<BlockedMailbox> } | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'the body must be a JSON object';
  const v = value as Record<string, unknown>;
  if (typeof v.mailbox !== 'string' || v.mailbox === '') return 'mailbox must be a non-empty string';
  if (v.code !== undefined && !BLOCK_CODES.includes(v.code as BlockedMailbox['code'])) return `code must be one of ${BLOCK_CODES.join(', ')}`;
  if (v.status !== undefined && (typeof v.status !== 'number' || v.status < 400 || v.status > 599)) return 'status must be a number from 400 to 599';
  if (v.retryAfter !== undefined && typeof v.retryAfter !== 'string') return 'retryAfter must be a string';
  const block: Partial<BlockedMailbox> = {};
  if (v.code !== undefined) block.code = v.code as BlockedMailbox['code'];
  if (typeof v.status === 'number') block.status = v.status;
  if (typeof v.retryAfter === 'string') block.retryAfter = v.retryAfter;
  return { mailbox: v.mailbox, block };
}

/** A fault from JSON; `times` may be the string "Infinity" since JSON has no Infinity. */
export function parseFault(value: unknown): Fault | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'the fault must be a JSON object';
  const v = value as Record<string, unknown>;
  if (!TARGETS.includes(v.target as FaultTarget)) return `target must be one of ${TARGETS.join(', ')}`;
  if (v.action !== undefined && !ACTIONS.includes(v.action as FaultAction)) return `action must be one of ${ACTIONS.join(', ')}`;
  const times = v.times === 'Infinity' || v.times === null ? Infinity : v.times;
  if (times !== undefined && (typeof times !== 'number' || !(times > 0))) return 'times must be a positive number or "Infinity"';
  const fault: Fault = { target: v.target as FaultTarget };
  if (v.action !== undefined) fault.action = v.action as FaultAction;
  if (typeof times === 'number') fault.times = times;
  if (typeof v.status === 'number') fault.status = v.status;
  if (typeof v.delayMs === 'number') fault.delayMs = v.delayMs;
  if (typeof v.aadsts === 'number') fault.aadsts = v.aadsts;
  if (typeof v.after === 'number' && v.after >= 0) fault.after = v.after;
  for (const key of ['code', 'message', 'retryAfter', 'mailbox'] as const) {
    if (v[key] !== undefined) {
      if (typeof v[key] !== 'string') return `${key} must be a string`;
      fault[key] = v[key];
    }
  }
  return fault;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function addresses(list: unknown): string {
  if (!Array.isArray(list)) return '';
  return list
    .map((r) => {
      const e = (r as { emailAddress?: { address?: unknown; name?: unknown } } | null)?.emailAddress;
      return typeof e?.address === 'string' ? e.address : '?';
    })
    .join(', ');
}

function preview(message: Record<string, unknown>): string {
  const body = message.body as { content?: unknown; contentType?: unknown } | undefined;
  const content = typeof body?.content === 'string' ? body.content : '';
  const text = /html/i.test(String(body?.contentType)) ? content.replace(/<style[\s\S]*?<\/style>|<[^>]*>/gi, ' ') : content;
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 160 ? `${flat.slice(0, 157)}...` : flat;
}

/** The sender mailbox's Inbox as "email in" would see it (newest first, at most 100). */
function inbox(api: ControlApi, mailbox: string): string {
  const list = mailbox ? api.messages(mailbox, 'inbox') : [];
  if (typeof list === 'string') return '';
  const rows = list
    .sort((a, b) => b.receivedDateTime.localeCompare(a.receivedDateTime))
    .slice(0, 100)
    .map((m) => `<tr><td>${escapeHtml(m.receivedDateTime.replace('T', ' ').replace('Z', ''))}</td><td>${escapeHtml(m.from ?? '')}</td><td>${escapeHtml(m.subject)}</td><td>${m.isRead ? 'read' : 'unread'}</td><td>${m.attachments.length}</td></tr>`)
    .join('\n');
  return `<h2>Inbox of ${escapeHtml(mailbox)}</h2>
<table><thead><tr><th>received (UTC)</th><th>from</th><th>subject</th><th>state</th><th>attachments</th></tr></thead>
<tbody>
${rows || '<tr><td colspan="5" class="muted">Empty.</td></tr>'}
</tbody></table>`;
}

function page(api: ControlApi): string {
  const info = api.info();
  const stats = api.stats();
  const rows = api
    .mail()
    .slice()
    .reverse()
    .slice(0, 500)
    .map((m) => {
      const to = [addresses(m.message.toRecipients), addresses(m.message.ccRecipients)].filter(Boolean).join('; ');
      const subject = typeof m.message.subject === 'string' ? m.message.subject : '';
      return `<tr><td>${escapeHtml(m.receivedAt.toISOString().replace('T', ' ').slice(0, 19))}</td><td>${escapeHtml(m.sender)}</td><td>${escapeHtml(to)}</td><td>${escapeHtml(subject)}</td><td class="p">${escapeHtml(preview(m.message))}</td><td>${m.attachments.length}</td><td>${m.path}</td></tr>`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">
<title>Office 365 Mail sandbox</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #ddd;padding:.35em .5em;text-align:left;vertical-align:top}
th{background:#f4f4f4}td.p{color:#555;max-width:30em}code{background:#f4f4f4;padding:0 .25em}.muted{color:#777}
</style></head><body>
<h1>Office 365 Mail sandbox</h1>
<p>A local stand-in for Entra ID and Microsoft Graph mail. Nothing leaves this machine.</p>
<p>Connection settings: cloud <code>custom</code>, login URL and Graph URL <code>${escapeHtml(info.url)}</code>,
tenant <code>${escapeHtml(info.tenantId)}</code> (or <code>${escapeHtml(info.tenantDomain)}</code>),
application <code>${escapeHtml(info.applicationId)}</code>, sender <code>${escapeHtml(info.senderEmail)}</code>.</p>
<p class="muted">${stats.mailsSent} sent &middot; ${stats.tokenRequests} token requests &middot; ${stats.graphRequests} Graph requests &middot; ${stats.tlsConnections} TLS connections &middot; refreshes every 5 s &middot; JSON: <a href="/_sandbox/mail">mail</a>, <a href="/_sandbox/stats">stats</a>, <a href="/_sandbox/requests">requests</a></p>
<table><thead><tr><th>time (UTC)</th><th>from</th><th>to / cc</th><th>subject</th><th>body</th><th>attachments</th><th>path</th></tr></thead>
<tbody>
${rows || '<tr><td colspan="7" class="muted">No mail yet.</td></tr>'}
</tbody></table>
${inbox(api, info.senderEmail)}
</body></html>`;
}

export function handleControl(api: ControlApi, req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams, body: Buffer): void {
  if (!LOOPBACK.has(req.socket.remoteAddress ?? '')) {
    send(res, 403, JSON.stringify({ error: 'The sandbox control surface answers loopback clients only.' }));
    return;
  }
  const route = `${req.method ?? 'GET'} ${path.replace(/\/+$/, '') || '/_sandbox'}`;
  const json = (status: number, value: unknown): void => send(res, status, JSON.stringify(value));
  switch (route) {
    case 'GET /_sandbox':
      send(res, 200, page(api), 'text/html; charset=utf-8');
      return;
    case 'GET /_sandbox/mail':
      json(200, api.mail(query.get('mailbox') ?? undefined));
      return;
    case 'GET /_sandbox/stats':
      json(200, api.stats());
      return;
    case 'GET /_sandbox/requests':
      json(200, api.requests());
      return;
    case 'GET /_sandbox/faults':
      // Infinity does not survive JSON.stringify; spell it the way POST accepts it.
      json(200, api.faults().map((f) => ({ ...f, times: f.times === Infinity ? 'Infinity' : f.times })));
      return;
    case 'POST /_sandbox/faults': {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch {
        json(400, { error: 'The body must be a JSON fault.' });
        return;
      }
      const fault = parseFault(parsed);
      if (typeof fault === 'string') {
        json(400, { error: fault });
        return;
      }
      api.addFault(fault);
      json(201, { added: { ...fault, times: fault.times === Infinity ? 'Infinity' : (fault.times ?? 1) } });
      return;
    }
    case 'DELETE /_sandbox/faults':
      api.clearFaults();
      send(res, 204, '');
      return;
    case 'GET /_sandbox/blocked':
      json(200, api.blocked());
      return;
    case 'POST /_sandbox/blocked': {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch {
        parsed = undefined;
      }
      const request = parseBlock(parsed);
      if (typeof request === 'string') {
        json(400, { error: request });
        return;
      }
      api.blockMailbox(request.mailbox, request.block);
      send(res, 204, '');
      return;
    }
    case 'DELETE /_sandbox/blocked':
      api.unblockMailbox(query.get('mailbox') ?? undefined);
      send(res, 204, '');
      return;
    case 'POST /_sandbox/reset':
      api.reset();
      send(res, 204, '');
      return;
    case 'POST /_sandbox/latency': {
      let ms: unknown;
      try {
        ms = (JSON.parse(body.toString('utf8')) as { ms?: unknown }).ms;
      } catch {
        ms = undefined;
      }
      if (typeof ms !== 'number' || ms < 0) {
        json(400, { error: 'The body must be { "ms": <non-negative number> }.' });
        return;
      }
      api.setLatency(ms);
      send(res, 204, '');
      return;
    }
    case 'POST /_sandbox/revoke': {
      // {} revokes every token issued so far; {"next": n} also the next n to be issued.
      let next: unknown;
      try {
        next = body.length ? (JSON.parse(body.toString('utf8')) as { next?: unknown }).next : undefined;
      } catch {
        next = -1;
      }
      if (next !== undefined && (typeof next !== 'number' || !Number.isInteger(next) || next < 0)) {
        json(400, { error: 'The body must be {} or { "next": <whole number of tokens> }.' });
        return;
      }
      api.revokeTokens(next ?? 0);
      send(res, 204, '');
      return;
    }
    case 'POST /_sandbox/roles': {
      let parsed: { applicationId?: unknown; roles?: unknown } = {};
      try {
        parsed = JSON.parse(body.toString('utf8')) as typeof parsed;
      } catch {
        // answered below
      }
      const { applicationId, roles } = parsed;
      if (typeof applicationId !== 'string' || !Array.isArray(roles) || !roles.every((r) => typeof r === 'string')) {
        json(400, { error: 'The body must be { "applicationId": "<id>", "roles": ["Mail.Send", ...] }.' });
        return;
      }
      if (!api.setAppRoles(applicationId, roles as string[])) {
        json(404, { error: 'No app with this applicationId.' });
        return;
      }
      send(res, 204, '');
      return;
    }
    case 'POST /_sandbox/inject': {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch {
        parsed = undefined;
      }
      const v = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
      if (!v || typeof v.mailbox !== 'string') {
        json(400, { error: 'The body must be { "mailbox": "…", "subject": …, "from": …, "text" | "html": …, "attachments": [...] }.' });
        return;
      }
      const result = api.injectMail(v.mailbox, v as InjectMail);
      if (typeof result === 'string') json(400, { error: result });
      else json(201, result);
      return;
    }
    case 'GET /_sandbox/folders': {
      const result = api.folders(query.get('mailbox') ?? '');
      if (typeof result === 'string') json(404, { error: result });
      else json(200, result);
      return;
    }
    case 'GET /_sandbox/messages': {
      const result = api.messages(query.get('mailbox') ?? '', query.get('folder') ?? undefined);
      if (typeof result === 'string') json(404, { error: result });
      else json(200, result);
      return;
    }
    case 'POST /_sandbox/expire-delta': {
      let mailbox: unknown;
      try {
        mailbox = (JSON.parse(body.toString('utf8')) as { mailbox?: unknown }).mailbox;
      } catch {
        mailbox = undefined;
      }
      const result = typeof mailbox === 'string' ? api.expireDeltaTokens(mailbox) : 'The body must be { "mailbox": "…" }.';
      if (typeof result === 'string') json(typeof mailbox === 'string' ? 404 : 400, { error: result });
      else json(200, { expired: result });
      return;
    }
    default:
      json(404, { error: `No control route ${route}.` });
  }
}
