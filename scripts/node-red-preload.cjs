// Preloaded into the Node-RED that `npm start` runs (node --require).
'use strict';
const fs = require('node:fs');
const path = require('node:path');

// Node-RED appends "-git" to its version when a .git folder sits four levels above its runtime,
// meant for a Node-RED run from its own git checkout. Run as this checkout's devDependency it finds
// ours and prints "v4.1.8-git": hide exactly that one folder from exactly that check.
const runtimeGit = path.join(path.dirname(require.resolve('@node-red/runtime/package.json', { paths: [path.dirname(process.argv[1] || path.join(process.cwd(), 'x'))] })), '..', '..', '..', '.git');
const statSync = fs.statSync;
fs.statSync = function (p, ...rest) {
  if (typeof p === 'string' && path.resolve(p) === runtimeGit) {
    const err = new Error(`ENOENT: no such file or directory, stat '${p}'`);
    err.code = 'ENOENT';
    throw err;
  }
  return statSync.call(this, p, ...rest);
};

// The parent (npm start) holds our stdin: when it goes, however it went, stop as on Ctrl+C.
process.stdin.on('end', () => process.kill(process.pid, 'SIGINT'));
process.stdin.on('error', () => process.kill(process.pid, 'SIGINT'));
process.stdin.resume();
