/* global URLSearchParams, setTimeout, clearTimeout, Buffer -- Node globals the lint config for plain scripts does not list */
/**
 * bench:mailin's idle floor: the polls of N email-in nodes (each mailbox's delta GET on its saved
 * deltaLink, the next one `everyMs` after the answer, all mailboxes starting together as a deploy
 * starts the nodes) over one keep-alive agent of 16 sockets (the package's shared pool size), with
 * the lean axios client or Node's own https.request. Plain CommonJS so that both the Node-RED
 * process (the bench's settings file, which Node-RED loads untranspiled) and bench/poll-floor.ts
 * (a plain process) run this one copy.
 */
const https = require('node:https');
const axios = require('axios');

/** The headers the node sends on a poll (nodes/lib/mail-in.ts, graph.ts), less the client-request-id. */
const PREFER = 'odata.maxpagesize=50, IdType="ImmutableId"';

/**
 * Takes a token, makes each mailbox's first round, then polls until the returned stop() is called.
 * options: { base, credentials: { tenant, client_id, client_secret }, mailboxes, select, everyMs,
 * mode: 'axios' | 'https', onError(err) }.
 */
async function startLeanPolls(options) {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 16 });
  const lean = axios.create({ httpsAgent: agent, maxRedirects: 0, proxy: false });
  const { base, credentials } = options;
  const form = new URLSearchParams({ client_id: credentials.client_id, client_secret: credentials.client_secret, scope: `${base}/.default`, grant_type: 'client_credentials' });
  const answer = await lean.post(`${base}/${credentials.tenant}/oauth2/v2.0/token`, form.toString(), { headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  const headers = { Authorization: `Bearer ${answer.data.access_token}`, Prefer: PREFER };

  const get = options.mode === 'https' ? (url) => httpsGet(agent, url, headers) : async (url) => {
    const res = await lean.get(url, { headers });
    if (res.status !== 200) throw new Error(`delta answered ${res.status}`);
    return res.data;
  };
  async function round(link) {
    for (;;) {
      const page = await get(link);
      if (page['@odata.nextLink']) link = page['@odata.nextLink'];
      else if (page['@odata.deltaLink']) return page['@odata.deltaLink'];
      else throw new Error('a delta page without a link');
    }
  }

  const user = (m) => encodeURIComponent(m).replace(/%40/g, '@');
  const links = await Promise.all(options.mailboxes.map((m) => round(`${base}/v1.0/users/${user(m)}/mailFolders/Inbox/messages/delta?$select=${options.select}`)));
  const timers = new Set();
  let stopped = false;
  const poll = (i) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      round(links[i]).then(
        (link) => {
          links[i] = link;
          if (!stopped) poll(i);
        },
        (err) => options.onError?.(err),
      );
    }, options.everyMs);
    timers.add(timer);
  };
  options.mailboxes.forEach((_, i) => poll(i));
  return () => {
    stopped = true;
    for (const timer of timers) clearTimeout(timer);
    agent.destroy();
  };
}

function httpsGet(agent, url, headers) {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { agent, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`delta answered ${res.statusCode}`));
        else resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

module.exports = { startLeanPolls };
