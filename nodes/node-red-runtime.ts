/**
 * What both nodes take from the Node-RED runtime: the connection node as an email task sees it,
 * `env` as a node sees it, and how long close may take.
 */
import type { Node, NodeAPI } from 'node-red';
import type { ConnectionRuntime } from './lib/connection';
import type { ConfigProblem, ConnectionCredentials, Destination, EnvLookup } from './lib/settings';

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
