/**
 * What both nodes take from the Node-RED runtime: the connection node as an email task sees it,
 * `env` as a node sees it, and how long close may take.
 */
import type { Node, NodeAPI } from 'node-red';
import type { ConnectionRuntime } from './lib/connection';
import type { ConfigProblem, ConnectionCredentials, Destination, EnvLookup } from './lib/settings';
import type { KeyedConnection } from './lib/send-message';

export const CONNECTION_TYPE = 'office365-mail-connection';

export interface ConnectionNode extends Node<ConnectionCredentials> {
  /** Absent when the configuration is invalid; `problems` says why. */
  runtime?: ConnectionRuntime;
  problems: ConfigProblem[];
  key: string;
  /** Another deployed connection has the same Key: tasks choosing by Key refuse it (set at deploy). */
  duplicateKey?: boolean;
  /** Stops the daily expiry warning (set while the credential's expiry is watched). */
  stopExpiryWatch?: () => void;
  /** Where its stored credentials may be sent: Test connection uses them only for this. */
  destination: Destination;
}

/**
 * `${NAME}` in a credential, resolved as Node-RED resolves `env` for this node (its flow's and
 * group's env first, then the process environment). The one resolution for the deployed
 * connection, for Test connection (which passes the deployed node) and for `{{env.NAME}}` in an
 * email task's templates.
 */
export function envLookup(RED: NodeAPI, node: Node): EnvLookup {
  return (name) => {
    const value: unknown = RED.util.evaluateNodeProperty(name, 'env', node, {});
    return typeof value === 'string' && value !== '' ? value : undefined;
  };
}

/**
 * How long requests in flight may run on at close: Node-RED gives up on a node after its
 * `nodeCloseTimeout` (15 s by default), so ours end a little before that.
 */
export function closeGraceMs(RED: NodeAPI): number {
  const configured = Number((RED.settings as { nodeCloseTimeout?: unknown }).nodeCloseTimeout);
  const closeTimeout = Number.isFinite(configured) && configured > 0 ? configured : 15_000;
  return Math.max(500, closeTimeout - 3000);
}

/** The deployed nodes' configurations as RED.nodes.eachNode hands them over. */
type NodeConfig = { id: string; type: string; key?: unknown };

function keyOf(config: NodeConfig): string {
  return typeof config.key === 'string' ? config.key.trim() : '';
}

/** Ids of the other deployed connections with this Key (Node-RED's own view of the deployed flows). */
export function connectionsWithKey(RED: NodeAPI, key: string, except?: string): string[] {
  const ids: string[] = [];
  if (!key) return ids;
  RED.nodes.eachNode((config: object) => {
    const n = config as NodeConfig;
    if (n.type === CONNECTION_TYPE && n.id !== except && keyOf(n) === key) ids.push(n.id);
  });
  return ids;
}

/**
 * The one lookup of a deployed connection by its Key (authType `connectionKey`). `cache` keeps the
 * ids found (at most one per deployed connection), checked against the live node on every use, so
 * a redeploy is seen; only a Key not found costs a pass over the deployed nodes.
 */
export function connectionByKey(RED: NodeAPI, key: string, cache: Map<string, string>): KeyedConnection {
  const cached = cache.get(key);
  let node = cached === undefined ? null : (RED.nodes.getNode(cached) as ConnectionNode | null);
  if (!node || node.type !== CONNECTION_TYPE || node.key.trim() !== key) {
    cache.delete(key);
    const ids = connectionsWithKey(RED, key);
    if (ids.length > 1) return { problem: 'duplicate' };
    node = ids.length === 1 ? (RED.nodes.getNode(ids[0]) as ConnectionNode | null) : null;
    if (!node) return { problem: 'unknown' };
    cache.set(key, node.id);
  }
  if (node.duplicateKey) return { problem: 'duplicate' };
  return node.runtime ? { runtime: node.runtime } : { problem: 'invalid' };
}
