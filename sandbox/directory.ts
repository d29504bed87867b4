/**
 * Look-ups over a SandboxDirectory: tenant by GUID or domain, app in tenant, mailbox by address
 * or id. Everything is matched case-insensitively, as Entra and Exchange do.
 */
import { createHash } from 'node:crypto';
import type { SandboxApp, SandboxDirectory, SandboxMailbox, SandboxTenant } from './config';

export const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** A DNS name with at least two labels: what Entra accepts as a tenant domain. */
const DNS_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;

/** A stable GUID derived from a string, for ids the directory does not spell out (object ids). */
export function derivedGuid(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  // Version 4 / variant bits set so it looks like any other GUID Entra hands out.
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${((parseInt(h[16], 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export interface ResolvedMailbox {
  address: string;
  id: string;
  displayName: string;
  licensed: boolean;
}

export type TenantLookup =
  | { kind: 'found'; tenant: SandboxTenant }
  | { kind: 'not-found' }
  | { kind: 'invalid' }
  /** common / organizations / consumers: valid authorities, but no tenant to issue an app token in. */
  | { kind: 'multi-tenant' };

export class Directory {
  private readonly tenantsByKey = new Map<string, SandboxTenant>();
  private readonly mailboxes = new Map<string, Map<string, ResolvedMailbox>>();

  constructor(readonly data: SandboxDirectory) {
    for (const tenant of data.tenants) {
      this.tenantsByKey.set(tenant.tenantId.toLowerCase(), tenant);
      for (const domain of tenant.domains) this.tenantsByKey.set(domain.toLowerCase(), tenant);
      const byKey = new Map<string, ResolvedMailbox>();
      for (const m of tenant.mailboxes) {
        const resolved = this.resolveMailbox(m, tenant);
        byKey.set(resolved.address.toLowerCase(), resolved);
        byKey.set(resolved.id.toLowerCase(), resolved);
      }
      this.mailboxes.set(tenant.tenantId.toLowerCase(), byKey);
    }
  }

  private resolveMailbox(m: SandboxMailbox, tenant: SandboxTenant): ResolvedMailbox {
    return {
      address: m.address,
      id: m.id ?? derivedGuid(`${tenant.tenantId}/${m.address.toLowerCase()}`),
      displayName: m.displayName ?? m.address.split('@')[0],
      licensed: m.licensed !== false,
    };
  }

  /** Finds a tenant from the path segment of an authority URL. */
  tenant(segment: string): TenantLookup {
    const key = segment.toLowerCase();
    const found = this.tenantsByKey.get(key);
    if (found) return { kind: 'found', tenant: found };
    if (key === 'common' || key === 'organizations' || key === 'consumers') return { kind: 'multi-tenant' };
    if (GUID.test(segment) || DNS_NAME.test(segment)) return { kind: 'not-found' };
    return { kind: 'invalid' };
  }

  tenantById(tenantId: string): SandboxTenant | undefined {
    return this.tenantsByKey.get(tenantId.toLowerCase());
  }

  app(tenant: SandboxTenant, applicationId: string): SandboxApp | undefined {
    const key = applicationId.toLowerCase();
    return tenant.apps.find((a) => a.applicationId.toLowerCase() === key);
  }

  /** A mailbox by address (UPN) or object id, within one tenant. */
  mailbox(tenantId: string, key: string): ResolvedMailbox | undefined {
    return this.mailboxes.get(tenantId.toLowerCase())?.get(key.toLowerCase());
  }

  /** A mailbox by address or id in any tenant (for the control surface). */
  anyMailbox(key: string): ResolvedMailbox | undefined {
    for (const byKey of this.mailboxes.values()) {
      const found = byKey.get(key.toLowerCase());
      if (found) return found;
    }
    return undefined;
  }

  /** True when Exchange RBAC for Applications keeps the app away from this mailbox. */
  isOutOfScope(app: SandboxApp | undefined, pathKey: string, mailbox: ResolvedMailbox | undefined): boolean {
    const denied = app?.outOfScopeMailboxes;
    if (!denied || denied.length === 0) return false;
    const keys = new Set([pathKey.toLowerCase()]);
    if (mailbox) {
      keys.add(mailbox.address.toLowerCase());
      keys.add(mailbox.id.toLowerCase());
    }
    return denied.some((d) => keys.has(d.toLowerCase()));
  }
}
