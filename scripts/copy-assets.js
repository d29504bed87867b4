// Node-RED looks for a node's .html, icons/ and locales/ beside its .js, so the build puts them there.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const out = path.join(root, 'dist', 'nodes');
fs.mkdirSync(out, { recursive: true });
// The editor defaults are lib's own (tsc has just compiled it): written into each node's copy.
const { EMAIL_TASK_DEFAULTS } = require(path.join(out, 'lib', 'settings.js'));
const { MAIL_IN_DEFAULTS } = require(path.join(out, 'lib', 'mail-in.js'));
// Each node's editor defaults are lib's own: marker, and the value written in its place.
const MARKS = {
  'email-task.html': ['EMAIL_TASK_DEFAULTS_FROM_BUILD', EMAIL_TASK_DEFAULTS],
  'office365-mail-in.html': ['MAIL_IN_DEFAULTS_FROM_BUILD', MAIL_IN_DEFAULTS],
};
for (const file of fs.readdirSync(path.join(root, 'nodes'))) {
  if (!file.endsWith('.html')) continue;
  let html = fs.readFileSync(path.join(root, 'nodes', file), 'utf8');
  if (MARKS[file]) {
    const [mark, defaults] = MARKS[file];
    const parts = html.split(mark);
    if (parts.length !== 2) throw new Error(`${file}: expected ${mark} once, found it ${parts.length - 1} times`);
    html = parts.join(JSON.stringify(defaults));
  }
  fs.writeFileSync(path.join(out, file), html);
}
for (const dir of ['icons', 'locales']) {
  fs.cpSync(path.join(root, dir), path.join(out, dir), { recursive: true });
}
