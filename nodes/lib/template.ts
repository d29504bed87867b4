/** Mustache rendering of `str` values over the message, as the core template node does. */
import Mustache from 'mustache';

/** Looks up `flow.x`, `global.x` and `env.X` in the template, like the core template node. */
export type ContextLookup = (scope: 'flow' | 'global' | 'env', key: string) => unknown;

const NO_ESCAPE = (text: string): string => text;

/** True when the text has Mustache tags, so plain strings skip the renderer. */
export function isTemplate(text: string): boolean {
  return text.includes('{{');
}

/**
 * Renders `template` against `msg`. HTML-escaping applies only to HTML bodies: a subject or an
 * address with `&` must stay as written.
 */
export function renderTemplate(template: string, msg: object, lookup: ContextLookup | undefined, escapeHtml: boolean): string {
  if (!isTemplate(template)) return template;
  // msg first, then flow/global/env: a Context chain looks names up without copying msg.
  const view = new Mustache.Context(msg, lookup ? scopeContext(lookup) : undefined);
  return Mustache.render(template, view, undefined, escapeHtml ? undefined : { escape: NO_ESCAPE });
}

/** Built once per lookup (one per node), not per message. */
const scopeContexts = new WeakMap<ContextLookup, Mustache.Context>();

function scopeContext(lookup: ContextLookup): Mustache.Context {
  let context = scopeContexts.get(lookup);
  if (!context) {
    const scope = (name: 'flow' | 'global' | 'env'): object =>
      new Proxy(
        {},
        {
          has: (_target, key) => typeof key === 'string' && lookup(name, key) !== undefined,
          get: (_target, key) => (typeof key === 'string' ? lookup(name, key) : undefined),
        },
      );
    context = new Mustache.Context({ flow: scope('flow'), global: scope('global'), env: scope('env') });
    scopeContexts.set(lookup, context);
  }
  return context;
}
