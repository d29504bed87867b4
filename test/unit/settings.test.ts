import fs from 'node:fs';
import path from 'node:path';
import { DESTINATION_FIELDS, destinationChanges, destinationOf, permittedMailbox, readConnectionSettings, readTaskSettings, resolveSecret } from '../../nodes/lib/settings';
import { endpointsFor, graphScope } from '../../nodes/lib/clouds';
import { noEnv, validConnection } from '../support/connection-config';

const valid = validConnection;

describe('connection settings', () => {
  it('accepts a complete connection with defaults', () => {
    const { settings, problems } = readConnectionSettings(valid, { clientSecret: 'value' }, noEnv);
    expect(problems).toEqual([]);
    expect(settings).toMatchObject({
      loginUrl: 'https://login.microsoftonline.com',
      graphUrl: 'https://graph.microsoft.com',
      queueSize: 1000,
      maxRecipients: 500,
      allowedRecipientDomains: [],
    });
  });

  it('names every missing or malformed field', () => {
    const { settings, problems } = readConnectionSettings(
      { key: 'bad key', tenantId: 'not/a tenant', applicationId: 'nope', senderEmail: 'x', cloud: 'mars' },
      {},
      noEnv,
    );
    expect(settings).toBeUndefined();
    expect(problems.map((p) => p.field)).toEqual(['key', 'tenantId', 'applicationId', 'senderEmail', 'cloud', 'clientSecret']);
  });

  it('leaves a tenant that is neither GUID nor domain to Entra (AADSTS900023)', () => {
    expect(readConnectionSettings({ ...valid, tenantId: 'contoso' }, { clientSecret: 's' }, noEnv).problems).toEqual([]);
  });

  it('needs https URLs for a custom cloud', () => {
    expect(readConnectionSettings({ ...valid, cloud: 'custom', loginUrl: 'http://x', graphUrl: 'https://g' }, { clientSecret: 's' }, noEnv).problems[0].key).toBe(
      'invalidCustomUrls',
    );
    const { settings } = readConnectionSettings({ ...valid, cloud: 'custom', loginUrl: 'https://l.test/', graphUrl: 'https://g.test:8443' }, { clientSecret: 's' }, noEnv);
    expect(settings).toMatchObject({ loginUrl: 'https://l.test', graphUrl: 'https://g.test:8443' });
  });

  it('resolves ${NAME} secrets from the environment and reports a missing one', () => {
    const env = (name: string): string | undefined => (name === 'O365_SECRET' ? 'from-env' : undefined);
    expect(resolveSecret('${O365_SECRET}', env)).toEqual({ value: 'from-env' });
    expect(resolveSecret('${NOPE}', env)).toEqual({ missing: 'NOPE' });
    expect(resolveSecret('plain${x}', env)).toEqual({ value: 'plain${x}' });
    const { problems } = readConnectionSettings(valid, { clientSecret: '${NOPE}' }, env);
    expect(problems).toEqual([{ field: 'clientSecret', key: 'secretEnvMissing', params: { name: 'NOPE' } }]);
  });

  it('reads abuse limits', () => {
    const { settings } = readConnectionSettings({ ...valid, allowedRecipientDomains: 'Example.com, @nhs.net', maxRecipients: '10' }, { clientSecret: 's' }, noEnv);
    expect(settings).toMatchObject({ allowedRecipientDomains: ['example.com', 'nhs.net'], maxRecipients: 10 });
    // Exchange admins may allow up to 1,000 recipients per message; the default stays 500.
    expect(readConnectionSettings({ ...valid, maxRecipients: '1000' }, { clientSecret: 's' }, noEnv).settings?.maxRecipients).toBe(1000);
    expect(readConnectionSettings({ ...valid, maxRecipients: '1001' }, { clientSecret: 's' }, noEnv).problems[0].field).toBe('maxRecipients');
  });

  it('reads the Exchange guards: off when empty, positive whole numbers otherwise', () => {
    const off = readConnectionSettings({ ...valid, maxMailsPerMinute: '', maxRecipientsPerDay: '' }, { clientSecret: 's' }, noEnv).settings;
    expect(off).toBeDefined();
    expect(off).not.toHaveProperty('maxMailsPerMinute');
    expect(off).not.toHaveProperty('maxRecipientsPerDay');
    const on = readConnectionSettings({ ...valid, maxMailsPerMinute: '30', maxRecipientsPerDay: 9000 }, { clientSecret: 's' }, noEnv).settings;
    expect(on).toMatchObject({ maxMailsPerMinute: 30, maxRecipientsPerDay: 9000 });
    for (const bad of ['0', '-1', '2.5', 'many']) {
      const { settings, problems } = readConnectionSettings({ ...valid, maxMailsPerMinute: bad, maxRecipientsPerDay: bad }, { clientSecret: 's' }, noEnv);
      expect(settings).toBeUndefined();
      expect(problems).toEqual([
        { field: 'maxMailsPerMinute', key: 'invalidNumber' },
        { field: 'maxRecipientsPerDay', key: 'invalidNumber' },
      ]);
    }
  });

  it('reads other mailboxes: lower-cased, deduplicated, without the sender, no value in a problem', () => {
    const { settings } = readConnectionSettings({ ...valid, allowedMailboxes: `Shared@Contoso.com; shared@contoso.com ${valid.senderEmail.toUpperCase()},orders@contoso.com` }, { clientSecret: 's' }, noEnv);
    expect(settings?.allowedMailboxes).toEqual(['shared@contoso.com', 'orders@contoso.com']);
    expect(permittedMailbox(settings!, ' SHARED@contoso.com ')).toBe('shared@contoso.com');
    expect(permittedMailbox(settings!, valid.senderEmail.toUpperCase())).toBe(valid.senderEmail);
    expect(permittedMailbox(settings!, 'ceo@contoso.com')).toBeUndefined();
    expect(permittedMailbox(settings!, '')).toBeUndefined();

    const bad = readConnectionSettings({ ...valid, allowedMailboxes: 'a@contoso.com, Secret Value <x@y.z>' }, { clientSecret: 's' }, noEnv);
    expect(bad.problems).toEqual([{ field: 'allowedMailboxes', key: 'invalidMailbox' }]);
    const many = readConnectionSettings({ ...valid, allowedMailboxes: 'a@b.c '.repeat(1001) }, { clientSecret: 's' }, noEnv);
    expect(many.problems).toEqual([{ field: 'allowedMailboxes', key: 'tooManyMailboxes', params: { max: '1000' } }]);
    expect(readConnectionSettings(valid, { clientSecret: 's' }, noEnv).settings?.allowedMailboxes).toEqual([]);
  });

  it('knows every cloud', () => {
    expect(endpointsFor('usgovdod')).toEqual({ loginUrl: 'https://login.microsoftonline.us', graphUrl: 'https://dod-graph.microsoft.us' });
    expect(endpointsFor('china')?.graphUrl).toBe('https://microsoftgraph.chinacloudapi.cn');
    expect(graphScope('https://graph.microsoft.us')).toBe('https://graph.microsoft.us/.default');
  });
});

describe('task settings', () => {
  it('applies the documented defaults', () => {
    const defaults = readTaskSettings({});
    expect(defaults.inputs).toEqual([
      { field: 'to', value: 'to', type: 'msg' },
      { field: 'cc', value: 'cc', type: 'msg' },
      { field: 'bcc', value: 'bcc', type: 'msg' },
      { field: 'replyTo', value: 'replyTo', type: 'msg' },
      { field: 'subject', value: 'topic', type: 'msg' },
      { field: 'body', value: 'payload', type: 'msg' },
      { field: 'attachments', value: 'attachments', type: 'msg' },
      { field: 'from', value: 'from', type: 'msg' },
    ]);
    // The message answered and the Key are read only when the task uses them.
    expect(readTaskSettings({ action: 'reply', authType: 'connectionKey' }).inputs.map((i) => i.field).slice(-3)).toEqual(['from', 'messageId', 'connectionKey']);
    expect(defaults.configuredFields.size).toBe(0);
    expect(defaults).toMatchObject({
      bodyFormat: 'auto',
      importance: 'normal',
      saveToSentItems: true,
      maxAttempts: 5,
      maxWaitMs: 300_000,
      timeoutMs: 30_000,
      retryUnknownOutcome: false,
      action: 'send',
      returnMessageIds: false,
    });
    expect(readTaskSettings({ action: 'forward', returnMessageIds: 'true' })).toMatchObject({ action: 'forward', returnMessageIds: true });
    expect(readTaskSettings({ action: 'delete' }).action).toBe('send');
    expect(readTaskSettings({ saveToSentItems: false, timeout: '5', bodyFormat: 'html' })).toMatchObject({ saveToSentItems: false, timeoutMs: 5000, bodyFormat: 'html' });
  });

  it('decides `auto` by a fixed body template, and marks values set in the node or the environment', () => {
    expect(readTaskSettings({ body: '<p>Hello {{payload}}</p>', bodyType: 'str' }).bodyFormat).toBe('html');
    expect(readTaskSettings({ body: 'Hello {{payload}}', bodyType: 'str' }).bodyFormat).toBe('text');
    expect(readTaskSettings({ body: 'payload', bodyType: 'msg' }).bodyFormat).toBe('auto');
    const task = readTaskSettings({ to: 'ada@example.com', toType: 'str', subject: 'SUBJECT', subjectType: 'env', cc: 'cc', ccType: 'msg' });
    expect([...task.configuredFields].sort()).toEqual(['subject', 'to']);
  });
});

describe('secrets in configuration values (issue 11)', () => {
  // Node-RED fills plain properties from ${NAME}, so any field may hold an environment secret.
  const SECRET = 'topsecret-env-value-42';
  const fields = ['key', 'tenantId', 'applicationId', 'senderEmail', 'cloud', 'authMethod', 'proxyUrl', 'queueSize', 'maxRecipients', 'allowedRecipientDomains'];

  it.each(fields)('a problem with %s names the field and quotes no value', (field) => {
    const { problems } = readConnectionSettings({ ...valid, [field]: `${SECRET}/\r\n x` }, { clientSecret: 's' }, noEnv);
    expect(problems.map((p) => p.field)).toContain(field);
    expect(JSON.stringify(problems)).not.toContain(SECRET);
  });

  it.each(['en-US', 'de', 'ja'])('no deploy message of %s has a value placeholder', (lang) => {
    const file = path.join(__dirname, '..', '..', 'locales', lang, 'office365-mail-connection.json');
    const deploy = (JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, { deploy: Record<string, string> }>)['office365-mail-connection'].deploy;
    expect(Object.entries(deploy).filter(([, text]) => text.includes('__value__'))).toEqual([]);
  });

  it('compares destinations field by field, with the defaults filled in', () => {
    const deployed = destinationOf({ ...valid, cloud: '', authMethod: undefined });
    expect(destinationOf({ ...valid, cloud: 'global', authMethod: 'secret' })).toEqual(deployed);
    expect(destinationChanges(deployed, destinationOf({ ...valid, tenantId: ` ${valid.tenantId} ` }))).toEqual([]);
    for (const field of DESTINATION_FIELDS) {
      expect(destinationChanges(deployed, destinationOf({ ...valid, [field]: 'other' }))).toEqual([field]);
    }
  });
});
