/** A complete, valid connection configuration for settings tests, and an environment with nothing in it. */
export const validConnection = {
  key: 'my-office-connection',
  tenantId: 'contoso.onmicrosoft.com',
  applicationId: '0b7e5a3c-2d91-4f6e-8a4b-1c9d7e2f6a30',
  senderEmail: 'alerts@contoso.onmicrosoft.com',
  cloud: 'global',
};

export const noEnv = (): undefined => undefined;
