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
  const view: Record<string, unknown> = lookup ? { ...scopeView(lookup), ...msg } : { ...msg };
  return Mustache.render(template, view, undefined, escapeHtml ? undefined : { escape: NO_ESCAPE });
}

function scopeView(lookup: ContextLookup): Record<string, unknown> {
  const scope = (name: 'flow' | 'global' | 'env'): object =>
    new Proxy(
      {},
      {
        has: (_target, key) => typeof key === 'string' && lookup(name, key) !== undefined,
        get: (_target, key) => (typeof key === 'string' ? lookup(name, key) : undefined),
      },
    );
  return { flow: scope('flow'), global: scope('global'), env: scope('env') };
}
