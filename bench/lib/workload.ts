/**
 * The one workload every scenario sends: a 1 KB plain-text mail to 2 recipients. Node-RED flows
 * get it as a message (`to`, `topic`, `payload`, the e-mail node's own names); the floor clients
 * get the Graph JSON that the email task composes from that message.
 */
import { SANDBOX } from '../../sandbox/config';

export const SENDER = SANDBOX.senderEmail;
export const RECIPIENTS = ['ada@example.com', 'grace@example.com'] as const;
export const SUBJECT = 'Benchmark mail';

/** 1,024 bytes of ASCII text, no HTML: the email task sends it as `text`, the e-mail node as `text`. */
export const BODY_1KB = (() => {
  const line = 'The quick brown fox jumps over the lazy dog while the benchmark counts every mail. ';
  let text = '';
  while (text.length < 1024) text += line;
  return text.slice(0, 1023) + '\n';
})();

/** The Node-RED message both flows send (the e-mail node reads `to` as a comma-separated list). */
export function benchMessage(): { to: string; topic: string; payload: string } {
  return { to: RECIPIENTS.join(', '), topic: SUBJECT, payload: BODY_1KB };
}

/** What the email task posts to `/users/{sender}/sendMail` for that message (saveToSentItems left at Graph's default). */
export function graphSendMailBody(): { message: Record<string, unknown> } {
  return {
    message: {
      subject: SUBJECT,
      body: { contentType: 'text', content: BODY_1KB },
      toRecipients: RECIPIENTS.map((address) => ({ emailAddress: { address } })),
    },
  };
}
