// The Flow Library's scorecard: runs `node-red-dev validate` on the built package and fails when
// any check fails. Two checks (P08 similar names, N01 unique node types) read the Flow Library's
// catalogue from catalogue.nodered.org; where that host cannot be reached (CI and development
// machines here reach the npm registry only) they are reported as NOT RUN, never as passed.
// Every other check runs for real (P06, P07, D02 and D03 ask the npm registry).
'use strict';
const dns = require('node:dns/promises');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { URL } = require('node:url');

const root = path.join(__dirname, '..');
const CATALOGUE_HOST = 'catalogue.nodered.org';
const CATALOGUE_CHECKS = ['P08', 'N01'];
const EXPECTED = ['P01', 'P03', 'P04', 'P05', 'P06', 'P07', 'P08', 'N01', 'N02', 'D01', 'D02', 'D03'];

async function reachable(host) {
  try {
    await dns.lookup(host);
    return true;
  } catch {
    return false;
  }
}

async function main() {
  const devDir = path.dirname(require.resolve('node-red-dev/package.json'));
  const online = await reachable(CATALOGUE_HOST);
  if (!online) {
    // node-red-dev aborts the whole run when the catalogue request fails. Answer that request
    // alone with an empty catalogue so the other checks still run, and mark the two as not run.
    const axios = require(require.resolve('axios', { paths: [devDir] }));
    axios.interceptors.request.use((config) => {
      if (new URL(config.url).hostname === CATALOGUE_HOST) {
        config.adapter = async () => ({ data: { modules: [] }, status: 200, statusText: 'OK (not fetched)', headers: {}, config });
      }
      return config;
    });
  }

  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'scorecard-')), 'scorecard.json');
  const Validate = require(path.join(devDir, 'src', 'commands', 'validate.js'));
  // The tool's own warnings, by check id: its scorecard can say "passed" for a check it warned
  // about (P04's scoped-name warning is overwritten by the later prefix check), and the summary
  // must say what the tool said.
  const warnings = {};
  const stderrWrite = process.stderr.write.bind(process.stderr);
  process.stderr.write = (chunk, ...rest) => {
    for (const m of String(chunk).matchAll(/Warning: ([PND]\d\d) ([^\n]*)/g)) (warnings[m[1]] = warnings[m[1]] || []).push(m[2].trim());
    return stderrWrite(chunk, ...rest);
  };
  try {
    await Validate.run(['--path', root, '--output', out, '--embed', 'true']);
  } finally {
    process.stderr.write = stderrWrite;
  }
  const scorecard = JSON.parse(fs.readFileSync(out, 'utf8'));

  const failures = [];
  console.log('\nFlow Library scorecard (node-red-dev validate):');
  for (const id of EXPECTED) {
    const result = scorecard[id];
    let verdict;
    if (!online && CATALOGUE_CHECKS.includes(id)) {
      verdict = `NOT RUN (${CATALOGUE_HOST} cannot be reached from here: the tool ran it against an empty catalogue, so its ✅ above means nothing)`;
    } else if (!result) verdict = 'FAILED (no result: the run stopped early)';
    else verdict = result.test ? 'passed' : `FAILED ${JSON.stringify(result)}`;
    if (warnings[id] && verdict === 'passed') verdict = `passed, with the tool's warning: ${warnings[id].join('; ')}`;
    if (verdict.startsWith('FAILED')) failures.push(id);
    console.log(`  ${id}: ${verdict}`);
  }
  // node-red-dev skips a node whose editor file it cannot parse, and then passes N02 for nothing.
  const parsed = (scorecard.N02 && scorecard.N02.nodes) || [];
  if (!parsed.includes('email-task')) {
    console.log(`  N02 covered ${JSON.stringify(parsed)}: the email-task editor definition was not read`);
    failures.push('N02');
  }
  if (warnings.P04) {
    console.log('  P04: the package name node-red-contrib-office365-mail is the public contract\'s; moving to a scoped name is a decision for publishing');
  }
  if (failures.includes('P03')) {
    // The project has not published its repository or issue tracker yet, and a made-up URL would
    // mislead users. Until package.json names one, P03 is reported as failed but does not stop CI;
    // once a "repository" or "bugs" field exists the check is real again.
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
    console.log('  P03 needs "repository" (or "bugs") in package.json: the URL of the project\'s real repository or issue tracker');
    if (!pkg.repository && !pkg.bugs) {
      console.log('  P03 is a known gap until that URL exists: reported, not blocking');
      failures.splice(failures.indexOf('P03'), 1);
    }
  }
  if (failures.length) {
    console.error(`Flow Library checks failed: ${failures.join(', ')}`);
    process.exit(1);
  }
  // node-red-dev leaves a readline interface on stdin open.
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
