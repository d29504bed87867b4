/**
 * Issue 11, findings 5 and 6 and the deploy side of 2, in a real Node-RED runtime: message data
 * never turns a plain template into HTML, nothing quoted in a message or log line can forge a line,
 * and no deploy problem quotes a value (Node-RED fills plain properties from `${NAME}`).
 */
import type { Sandbox } from '../../sandbox';
import { SANDBOX } from '../../sandbox/config';
import { withEnglish } from '../support/english';
import { catchNode, connectionNode, emailTaskNode, helper, loadMailFlow, logText, mailFlow, send, useSandboxAndRuntime, watchOutputs } from '../support/node-red';

const currentSandbox = useSandboxAndRuntime();
let sandbox: Sandbox;
beforeEach(() => {
  sandbox = currentSandbox();
});

const PHISHING = '<a href="https://evil.example/login">Sign in</a>';

describe('a str body template with bodyFormat auto', () => {
  it('stays text when the template is plain, whatever the data holds', async () => {
    await loadMailFlow(mailFlow(sandbox, { body: 'Hello, {{payload.name}} wrote: {{payload.text}}', bodyType: 'str', bodyFormat: 'auto' }));
    const out = watchOutputs();
    send({ to: 'ada@example.com', topic: 'Contact form', payload: { name: 'Mallory', text: PHISHING } });
    await out.settled(1);
    expect(out.failed).toEqual([]);
    expect(sandbox.mail(SANDBOX.senderEmail)[0].message.body).toEqual({ contentType: 'text', content: `Hello, Mallory wrote: ${PHISHING}` });
  });

  it('is HTML when the template is, with the data escaped', async () => {
    await loadMailFlow(mailFlow(sandbox, { body: '<p>{{payload.name}} wrote: {{payload.text}}</p>', bodyType: 'str', bodyFormat: 'auto' }));
    const out = watchOutputs();
    send({ to: 'ada@example.com', topic: 'Contact form', payload: { name: 'Mallory', text: PHISHING } });
    await out.settled(1);
    const body = sandbox.mail(SANDBOX.senderEmail)[0].message.body as { contentType: string; content: string };
    expect(body.contentType).toBe('html');
    expect(body.content).not.toContain('<a ');
    expect(body.content).toContain('&lt;a href');
  });
});

describe('log forging', () => {
  it('strips CR/LF from values quoted in msg.error, the status and the log', async () => {
    await helper.load([withEnglish(connectionNode), withEnglish(emailTaskNode), catchNode], mailFlow(sandbox), { c1: { clientSecret: SANDBOX.clientSecret } });
    const out = watchOutputs();
    send({ to: 'nobody\r\n[error] [email-task:mail] forged line', topic: 'x', payload: 'x' });
    await out.settled(1);
    const error = out.failed[0].error as { message: string; hint: string; code: string };
    // A value from the message is still quoted (one line, cut short): the sender can fix it.
    expect(error.message).toContain('forged line');
    for (const text of [error.message, error.hint, error.code, ...out.statuses.map((s) => s.text ?? '')]) expect(text).not.toMatch(/[\r\n]/);
    const caught = out.caught.length ? JSON.stringify(out.caught[0].error) : '';
    expect(caught).not.toMatch(/\\[rn]\[error\]/);
    expect(logText()).not.toMatch(/\\[rn]\[error\]/);
  });
});

describe('deploy problems', () => {
  it('quote no value, so a ${NAME} filled in by Node-RED never reaches the log', async () => {
    process.env.O365_TEST_APP_ID = 'topsecret-env-value-42\r\n[error] forged';
    try {
      await helper.load([withEnglish(connectionNode), withEnglish(emailTaskNode), catchNode], mailFlow(sandbox, {}, { applicationId: '${O365_TEST_APP_ID}' }), {
        c1: { clientSecret: SANDBOX.clientSecret },
      });
      const log = logText();
      // The problem is reported, by field name.
      expect(log).toContain('is not a GUID');
      expect(log).not.toContain('topsecret-env-value-42');
      const usage = await helper.request().get('/office365-mail/usage');
      expect(JSON.stringify(usage.body)).not.toContain('topsecret-env-value-42');
    } finally {
      delete process.env.O365_TEST_APP_ID;
    }
  });
});

describe('values set in the email task', () => {
  it('are not quoted in an error: Node-RED may have filled them from ${NAME}', async () => {
    process.env.O365_TEST_TO = 'topsecret-value-not-an-address';
    try {
      await helper.load([withEnglish(connectionNode), withEnglish(emailTaskNode), catchNode], mailFlow(sandbox, { to: '${O365_TEST_TO}', toType: 'str' }), {
        c1: { clientSecret: SANDBOX.clientSecret },
      });
      const out = watchOutputs();
      send({ topic: 'x', payload: 'x' });
      await out.settled(1);
      const error = out.failed[0].error as { message: string; category: string; code: string };
      expect(error).toMatchObject({ category: 'validation', code: 'InvalidAddress' });
      expect(error.message).toContain('to as set in the node');
      expect(JSON.stringify([out.failed, out.caught, logText()])).not.toContain('topsecret-value-not-an-address');
    } finally {
      delete process.env.O365_TEST_TO;
    }
  });
});
