/**
 * The sandbox's directory: tenants, app registrations and mailboxes.
 *
 * SANDBOX holds the default values as constants so that tests, benches and `npm start` configure
 * their connection with the same ids and secrets the sandbox accepts. A test that needs other
 * tenants, apps or mailboxes passes its own `SandboxDirectory` to startSandbox().
 */

export const SANDBOX = {
  tenantId: '4f1c2a9e-7b3d-4c58-9e21-6a0b8d3c5f17',
  tenantDomain: 'contoso.onmicrosoft.com',
  applicationId: '0b7e5a3c-2d91-4f6e-8a4b-1c9d7e2f6a30',
  /** The secret's Value, what the connection must be given. */
  clientSecret: 'Sbx8Q~sandbox.client.secret.value-0123456789abcdef',
  /** The secret's ID, which users paste by mistake: Entra answers AADSTS7000215. */
  clientSecretId: '9d3b2c1a-5e4f-4a6b-8c7d-0e1f2a3b4c5d',
  /** A second secret of the main app that has expired: AADSTS7000222. */
  expiredClientSecret: 'Sbx8Q~expired.client.secret.value-9876543210fedcb',
  /** Admin consent never granted: the token comes back without a `roles` claim. */
  noConsentApplicationId: '6a2f8d41-93c7-4b05-b1e8-2d7c4f9a0e63',
  noConsentClientSecret: 'Sbx8Q~no.consent.secret.value-00112233445566778',
  /** Consented, but to User.Read.All only: Graph answers 403 ErrorAccessDenied on sendMail. */
  noMailSendApplicationId: 'c3d9e7f2-1a4b-4e8c-9f05-7b6a2d1c8e94',
  noMailSendClientSecret: 'Sbx8Q~no.mail.send.secret.value-99887766554433221',
  /** Mail.Send without Mail.ReadWrite: sendMail works, the draft + upload-session path is refused. */
  mailSendOnlyApplicationId: 'e81b4c6d-7f2a-4d39-a5c0-3e9f1b7d2a58',
  mailSendOnlyClientSecret: 'Sbx8Q~mail.send.only.secret.value-1357924680abcd',
  /**
   * Signs in with a certificate (client assertion). Its certificate is `.sandbox/client-cert.pem`
   * (key: client-key.pem), made and registered when the sandbox starts: see Sandbox.clientCertificate.
   */
  certificateApplicationId: '5d0c2b8e-4a7f-4c16-93e2-b8f1a6d4c9e7',
  senderEmail: 'alerts@contoso.onmicrosoft.com',
  /** Exists but has no Exchange Online licence: 404 MailboxNotEnabledForRESTAPI. */
  unlicensedMailbox: 'unlicensed@contoso.onmicrosoft.com',
  /** Outside the main app's Exchange RBAC for Applications scope: 403 ErrorAccessDenied. */
  outOfScopeMailbox: 'ceo@contoso.onmicrosoft.com',
} as const;

/** Graph's own application id: Entra also accepts `<this>/.default` as the Graph scope. */
export const GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';

export interface SandboxSecret {
  /** What the client sends as client_secret. */
  value: string;
  /** The secret's ID as the portal shows it; sending it instead of the value is refused. */
  id: string;
  expired?: boolean;
}

export interface SandboxApp {
  applicationId: string;
  displayName?: string;
  secrets: SandboxSecret[];
  /**
   * PEM certificates registered for client-assertion (certificate) sign-in. Left undefined on the
   * app with SANDBOX.certificateApplicationId, startSandbox registers the sandbox client certificate.
   */
  certificates?: string[];
  /**
   * Like an app set up for subject name + issuer (SNI) sign-in: the client assertion must carry
   * the certificate itself in `x5c`, else 700027.
   */
  requireX5c?: boolean;
  /** Application permissions with admin consent. Undefined or empty: the token has no roles claim. */
  roles?: string[];
  /** Mailboxes (addresses or ids) this app is scoped away from by Exchange RBAC for Applications. */
  outOfScopeMailboxes?: string[];
}

export interface SandboxMailbox {
  address: string;
  /** The user's object id; Graph accepts it in place of the address. Made up from the address if absent. */
  id?: string;
  displayName?: string;
  /** False: the user exists but has no Exchange Online mailbox. Default true. */
  licensed?: boolean;
}

export interface SandboxTenant {
  tenantId: string;
  /** Verified domains; the first is the tenant's default (`*.onmicrosoft.com`). */
  domains: string[];
  displayName?: string;
  /**
   * Seconds the tenant's clock is ahead of this machine's (negative: behind) when it judges client
   * assertions: a client with a skewed clock, for AADSTS700024.
   */
  clockOffsetSeconds?: number;
  /**
   * Recipients (To + Cc + Bcc) per message the tenant allows; default the sandbox's
   * `limits.maxRecipients` (500, Exchange Online's default). Exchange admins can raise it to 1,000
   * (RecipientLimits): https://learn.microsoft.com/office365/servicedescriptions/exchange-online-service-description/exchange-online-limits#sending-limits
   */
  maxRecipientsPerMessage?: number;
  apps: SandboxApp[];
  mailboxes: SandboxMailbox[];
}

export interface SandboxDirectory {
  tenants: SandboxTenant[];
}

/** A fresh copy of the default directory, safe for a test to modify before passing it in. */
export function defaultDirectory(): SandboxDirectory {
  return {
    tenants: [
      {
        tenantId: SANDBOX.tenantId,
        domains: [SANDBOX.tenantDomain, 'contoso.com'],
        displayName: 'Contoso (sandbox)',
        apps: [
          {
            applicationId: SANDBOX.applicationId,
            displayName: 'Node-RED mail (sandbox)',
            secrets: [
              { value: SANDBOX.clientSecret, id: SANDBOX.clientSecretId },
              { value: SANDBOX.expiredClientSecret, id: 'a7c4e1b9-3d62-4f80-8e15-c9b2d6f4a071', expired: true },
            ],
            roles: ['Mail.Send', 'Mail.ReadWrite'],
            outOfScopeMailboxes: [SANDBOX.outOfScopeMailbox],
          },
          {
            applicationId: SANDBOX.noConsentApplicationId,
            displayName: 'No admin consent (sandbox)',
            secrets: [{ value: SANDBOX.noConsentClientSecret, id: 'b2e6f0a4-8c1d-4f73-9a5e-0d4c7b3f2e16' }],
          },
          {
            applicationId: SANDBOX.noMailSendApplicationId,
            displayName: 'User.Read.All only (sandbox)',
            secrets: [{ value: SANDBOX.noMailSendClientSecret, id: 'f4a1c8e3-6b2d-4a97-8e0f-5c3b9d1a7e42' }],
            roles: ['User.Read.All'],
          },
          {
            applicationId: SANDBOX.mailSendOnlyApplicationId,
            displayName: 'Mail.Send only (sandbox)',
            secrets: [{ value: SANDBOX.mailSendOnlyClientSecret, id: '3c7e9a2f-d41b-4e68-b0a5-8f2c6e1d9b37' }],
            roles: ['Mail.Send'],
          },
          {
            applicationId: SANDBOX.certificateApplicationId,
            displayName: 'Certificate sign-in (sandbox)',
            secrets: [],
            // No `certificates`: startSandbox registers the sandbox client certificate on this app.
            roles: ['Mail.Send', 'Mail.ReadWrite'],
            outOfScopeMailboxes: [SANDBOX.outOfScopeMailbox],
          },
        ],
        mailboxes: [
          { address: SANDBOX.senderEmail, displayName: 'Alerts' },
          { address: 'reports@contoso.onmicrosoft.com', displayName: 'Reports' },
          { address: SANDBOX.outOfScopeMailbox, displayName: 'Chief Executive' },
          { address: SANDBOX.unlicensedMailbox, displayName: 'Unlicensed User', licensed: false },
        ],
      },
    ],
  };
}

/** Secret of the n-th app of manyApps(). */
export function manyAppsSecret(n: number): string {
  return `Sbx8Q~many.apps.secret.${String(n).padStart(4, '0')}-0123456789abcdef`;
}

/** Application id of the n-th app of manyApps(): a GUID that reads back to its number. */
export function manyAppsId(n: number): string {
  return `a0000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
}

/** Address of the n-th extra sender of manySenders(). */
export function manySendersAddress(n: number): string {
  return `sender${String(n).padStart(4, '0')}@${SANDBOX.tenantDomain}`;
}

/**
 * The default directory with `senders` more mailboxes (sender0001@…) and `apps` more apps (each
 * with its own secret, Mail.Send), for the scale benchmark and the sharing tests: one runtime
 * serving many clinics' mailboxes, or many customers' apps.
 */
export function manySenders(senders: number, apps = 0): SandboxDirectory {
  const directory = defaultDirectory();
  const tenant = directory.tenants[0];
  for (let n = 1; n <= senders; n++) tenant.mailboxes.push({ address: manySendersAddress(n) });
  for (let n = 1; n <= apps; n++) {
    tenant.apps.push({
      applicationId: manyAppsId(n),
      displayName: `App ${n} (sandbox)`,
      secrets: [{ value: manyAppsSecret(n), id: `b0000000-0000-4000-8000-${String(n).padStart(12, '0')}` }],
      roles: ['Mail.Send'],
    });
  }
  return directory;
}
