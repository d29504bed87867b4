/**
 * The runtime's `RED._` for tests: node-red-node-test-helper's own returns the key unchanged, so a
 * test that must read the English text (does the error name the field?) loads the nodes through
 * `withEnglish`, which translates full keys from our en-US catalogues as Node-RED's i18n does.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { NodeAPI } from 'node-red';

const LOCALES = path.join(__dirname, '..', '..', 'locales', 'en-US');
const catalogues = new Map<string, Record<string, unknown>>();

function catalogue(namespace: string): Record<string, unknown> {
  let found = catalogues.get(namespace);
  if (!found) {
    found = JSON.parse(fs.readFileSync(path.join(LOCALES, `${namespace}.json`), 'utf8')) as Record<string, unknown>;
    catalogues.set(namespace, found);
  }
  return found;
}

/** `package/namespace:a.b.c` with `__name__` placeholders filled, or the key when it has no text. */
export function english(key: string, params: Record<string, unknown> = {}): string {
  const match = /^[^/]+\/([^:]+):(.+)$/.exec(key);
  if (!match) return key;
  let node: unknown = catalogue(match[1]);
  for (const part of match[2].split('.')) node = (node as Record<string, unknown> | undefined)?.[part];
  if (typeof node !== 'string') return key;
  return node.replace(/__([A-Za-z0-9_]+)__/g, (whole, name: string) => (name in params ? String(params[name]) : whole));
}

type NodeModule = (RED: NodeAPI) => void;

/** The node module, registered with a runtime whose `RED._` gives English text. */
export function withEnglish(module: NodeModule): NodeModule {
  return (RED) => {
    (RED as unknown as { _: typeof english })._ = english;
    module(RED);
  };
}
