/**
 * V8's sampling CPU profiler (what `node --cpu-prof` uses) through the inspector, started and
 * stopped around one run so the profile holds that run only, not start-up.
 */
import fs from 'node:fs';
import inspector from 'node:inspector';

export interface ProfileHandle {
  stop(file: string): Promise<void>;
}

function post<T>(session: inspector.Session, method: string, params?: object): Promise<T> {
  return new Promise((resolve, reject) => {
    session.post(method, params ?? {}, (err, result) => (err ? reject(err) : resolve(result as T)));
  });
}

export async function startProfile(intervalUs = 200): Promise<ProfileHandle> {
  const session = new inspector.Session();
  session.connect();
  await post(session, 'Profiler.enable');
  await post(session, 'Profiler.setSamplingInterval', { interval: intervalUs });
  await post(session, 'Profiler.start');
  return {
    async stop(file: string): Promise<void> {
      const { profile } = await post<{ profile: object }>(session, 'Profiler.stop');
      session.disconnect();
      fs.writeFileSync(file, JSON.stringify(profile));
    },
  };
}

/** The same, as JavaScript source for the Node-RED settings file (which Node-RED loads untranspiled). */
export const PROFILE_SESSION_JS = `
function benchStartProfile(intervalUs, kind) {
  const inspector = require('node:inspector');
  const fs = require('node:fs');
  const session = new inspector.Session();
  session.connect();
  const post = (method, params) => new Promise((resolve, reject) =>
    session.post(method, params || {}, (err, result) => (err ? reject(err) : resolve(result))));
  if (kind === 'heap') {
    // Every allocation sampled, also what GC freed since: where the memory of a run goes.
    const started = post('HeapProfiler.startSampling', { samplingInterval: 16384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    return {
      started,
      stop: (file) => started.then(() => post('HeapProfiler.stopSampling')).then(({ profile }) => {
        session.disconnect();
        fs.writeFileSync(file, JSON.stringify(profile));
      }),
    };
  }
  const started = post('Profiler.enable')
    .then(() => post('Profiler.setSamplingInterval', { interval: intervalUs || 200 }))
    .then(() => post('Profiler.start'));
  return {
    started,
    stop: (file) => started.then(() => post('Profiler.stop')).then(({ profile }) => {
      session.disconnect();
      fs.writeFileSync(file, JSON.stringify(profile));
    }),
  };
}
`;
