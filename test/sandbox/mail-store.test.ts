/** MailStore's delta bookkeeping as a pure unit: bounded sync states, tokens tied to their folder. */
import { MailStore } from '../../sandbox/mail-store';

const BOX = 'alerts@contoso.onmicrosoft.com';

function round(store: MailStore, folderId: string, token?: string): string | undefined {
  const skip = store.startRound(BOX, folderId, token, (m) => m.id);
  if (skip === undefined) return undefined;
  return store.page(BOX, folderId, skip, 10)?.deltaToken;
}

test('the oldest delta tokens are dropped past 2,000 per mailbox; a token only works on its folder', () => {
  const store = new MailStore();
  const inbox = store.folder(BOX, 'inbox')?.id as string;
  const archive = store.folder(BOX, 'archive')?.id as string;
  const first = round(store, inbox) as string;
  expect(round(store, archive, first)).toBeUndefined();
  let last = first;
  for (let i = 0; i < 2000; i++) last = round(store, inbox, last) as string;
  expect(last).toEqual(expect.any(String));
  expect(round(store, inbox, first)).toBeUndefined();
  expect(round(store, inbox, last)).toEqual(expect.any(String));
});
