// Finds the Chromium the browser tests drive (playwright-core cannot download browsers here), and
// as `node scripts/browser.js` (npm test's pretest) installs Debian's `chromium` when none is found
// and we are root on Debian or Ubuntu, as CI does. Never a silent skip: without a browser the
// browser suite fails with the one line `missingBrowserText()` gives.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];

/** CHROMIUM_PATH, else the system's Chromium or Chrome; undefined when there is none. */
function findBrowser() {
  const configured = process.env.CHROMIUM_PATH;
  if (configured) return configured;
  return CANDIDATES.find((file) => {
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function missingBrowserText() {
  return 'No Chromium or Chrome found for the browser tests: install one (Debian/Ubuntu: apt-get install chromium) or set CHROMIUM_PATH to its executable.';
}

function canApt() {
  return process.getuid && process.getuid() === 0 && fs.existsSync('/usr/bin/apt-get');
}

function ensureBrowser() {
  const found = findBrowser();
  if (found) return found;
  if (!canApt()) {
    console.error(missingBrowserText());
    return undefined;
  }
  console.log('No browser for the browser tests: installing Debian\'s chromium (apt-get, as CI does)...');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'chromium'], { stdio: ['ignore', 'ignore', 'inherit'], env });
  return findBrowser();
}

module.exports = { findBrowser, missingBrowserText, ensureBrowser };

if (require.main === module) ensureBrowser();
