import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pointSandboxConnectionsAt } from '../../scripts/local-node-red';

describe('npm start: the saved sandbox connection follows the sandbox', () => {
  it('moves key "sandbox" connections on 127.0.0.1 to the current sandbox and leaves every other connection alone', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'o365-flows-')), 'flows.json');
    const flows = [
      { id: 'a', type: 'office365-mail-connection', key: 'sandbox', loginUrl: 'https://127.0.0.1:8443', graphUrl: 'https://127.0.0.1:8443' },
      { id: 'b', type: 'office365-mail-connection', key: 'production', cloud: 'global', loginUrl: '', graphUrl: '' },
      { id: 'c', type: 'office365-mail-connection', key: 'sandbox', loginUrl: 'https://login.example.test', graphUrl: 'https://graph.example.test' },
      { id: 'd', type: 'email-task', connection: 'a' },
    ];
    fs.writeFileSync(file, JSON.stringify(flows));
    expect(pointSandboxConnectionsAt(file, 'https://127.0.0.1:18443')).toBe(1);
    const after = JSON.parse(fs.readFileSync(file, 'utf8')) as typeof flows;
    expect(after[0]).toMatchObject({ loginUrl: 'https://127.0.0.1:18443', graphUrl: 'https://127.0.0.1:18443' });
    expect(after.slice(1)).toEqual(flows.slice(1));
    // Already right: nothing to write.
    expect(pointSandboxConnectionsAt(file, 'https://127.0.0.1:18443')).toBe(0);
    expect(pointSandboxConnectionsAt(path.join(path.dirname(file), 'missing.json'), 'https://127.0.0.1:1')).toBe(0);
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  });
});
