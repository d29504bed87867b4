// Node-RED looks for a node's .html, icons/ and locales/ beside its .js, so the build puts them there.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const out = path.join(root, 'dist', 'nodes');
fs.mkdirSync(out, { recursive: true });
// The email task's editor defaults are lib's own (tsc has just compiled it): written into its copy.
const DEFAULTS_MARK = 'EMAIL_TASK_DEFAULTS_FROM_BUILD';
const { EMAIL_TASK_DEFAULTS } = require(path.join(out, 'lib', 'settings.js'));
for (const file of fs.readdirSync(path.join(root, 'nodes'))) {
  if (!file.endsWith('.html')) continue;
  let html = fs.readFileSync(path.join(root, 'nodes', file), 'utf8');
  if (file === 'email-task.html') {
    const parts = html.split(DEFAULTS_MARK);
    if (parts.length !== 2) throw new Error(`${file}: expected ${DEFAULTS_MARK} once, found it ${parts.length - 1} times`);
    html = parts.join(JSON.stringify(EMAIL_TASK_DEFAULTS));
  }
  fs.writeFileSync(path.join(out, file), html);
}
for (const dir of ['icons', 'locales']) {
  fs.cpSync(path.join(root, dir), path.join(out, dir), { recursive: true });
}
