// Node-RED looks for a node's .html, icons/ and locales/ beside its .js, so the build puts them there.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const out = path.join(root, 'dist', 'nodes');
fs.mkdirSync(out, { recursive: true });
for (const file of fs.readdirSync(path.join(root, 'nodes'))) {
  if (file.endsWith('.html')) fs.copyFileSync(path.join(root, 'nodes', file), path.join(out, file));
}
for (const dir of ['icons', 'locales']) {
  fs.cpSync(path.join(root, dir), path.join(out, dir), { recursive: true });
}
