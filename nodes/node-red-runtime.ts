/**
 * What both nodes take from the Node-RED runtime: the connection node as an email task sees it,
 * `env` as a node sees it, and how long close may take.
 */
import type { Node, NodeAPI } from 'node-red';
import type { ConnectionRuntime } from './lib/connection';
import type { ConfigProblem, ConnectionCredentials, Destination, EnvLookup } from './lib/settings';
import type { KeyedConnection } from './lib/send-message';


export interface ConnectionNode extends Node<ConnectionCredentials> {
  /** Absent when the configuration is invalid; `problems` says why. */
  runtime?: ConnectionRuntime;
  problems: ConfigProblem[];
  key: string;
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

/**
 * The deployed connection nodes by Key: the one lookup for email tasks that choose their
 * connection per message (authType `connectionKey`). Module state on purpose: Node-RED loads a
 * node module once per process and runs one runtime in it, and each connection node adds itself
 * when it starts and removes itself when it closes, so the index is exactly what is deployed
 * (a redeploy closes the old node before the new one starts).
 */
const connectionsByKey = new Map<string, Set<ConnectionNode>>();

/** Adds a starting connection node; returns how many others hold its Key, and its removal. */
export function indexConnection(node: ConnectionNode): { others: number; remove: () => void } {
  const key = node.key.trim();
  if (!key) return { others: 0, remove: () => undefined };
  let nodes = connectionsByKey.get(key);
  if (!nodes) {
    nodes = new Set();
    connectionsByKey.set(key, nodes);
  }
  const others = nodes.size;
  nodes.add(node);
  const held = nodes;
  return {
    others,
    remove: () => {
      held.delete(node);
      if (held.size === 0 && connectionsByKey.get(key) === held) connectionsByKey.delete(key);
    },
  };
}

/** The deployed connection with this Key, or why none can be used (none, several, invalid). */
export function connectionByKey(key: string): KeyedConnection {
  const nodes = connectionsByKey.get(key);
  if (!nodes || nodes.size === 0) return { problem: 'unknown' };
  if (nodes.size > 1) return { problem: 'duplicate' };
  const [node] = nodes;
  return node.runtime ? { runtime: node.runtime } : { problem: 'invalid' };
}
