/** The CSDL-driven validator on its own, without a server. */
import { GraphSchema, base64DecodedLength, graphSchema, isValidBase64 } from '../../sandbox/schema';

const schema = graphSchema();

describe('loading the vendored CSDL', () => {
  test('resolves aliases and inheritance: message has its own, outlookItem and entity properties', () => {
    const message = schema.types.get('microsoft.graph.message');
    expect(message?.kind).toBe('entity');
    expect(message?.properties.get('toRecipients')).toMatchObject({ type: 'microsoft.graph.recipient', collection: true });
    expect(message?.properties.get('categories')).toMatchObject({ type: 'Edm.String', collection: true });
    expect(message?.properties.has('id')).toBe(true);
    expect(schema.types.get('microsoft.graph.attachment')?.abstract).toBe(true);
    expect(schema.isDerivedFrom('microsoft.graph.fileAttachment', 'microsoft.graph.attachment')).toBe(true);
  });

  test('knows the actions, without their binding parameter', () => {
    expect([...(schema.actions.get('sendMail')?.parameters.keys() ?? [])]).toEqual(['message', 'savetosentitems']);
    expect(schema.actions.get('createUploadSession')?.parameters.get('attachmentitem')?.nullable).toBe(false);
  });

  test('a schema can be built from any CSDL text', () => {
    const tiny = new GraphSchema(`<?xml version="1.0"?><edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"><edmx:DataServices>
      <Schema Namespace="microsoft.graph" Alias="graph" xmlns="http://docs.oasis-open.org/odata/ns/edm">
        <ComplexType Name="thing"><Property Name="n" Type="Edm.Int32" /></ComplexType>
      </Schema></edmx:DataServices></edmx:Edmx>`);
    expect(tiny.validateInstance({ n: 1 }, 'microsoft.graph.thing')).toBeUndefined();
    expect(tiny.validateInstance({ n: 1.5 }, 'microsoft.graph.thing')?.code).toBe('RequestBodyRead');
  });
});

describe('validating instances', () => {
  const valid = {
    subject: 's',
    body: { contentType: 'Text', content: 'c' },
    toRecipients: [{ emailAddress: { address: 'a@example.com', name: 'A' } }],
    importance: 'HIGH',
    isReadReceiptRequested: true,
    categories: ['Red category'],
    flag: { flagStatus: 'flagged', dueDateTime: { dateTime: '2025-01-01T10:00:00', timeZone: 'UTC' } },
    sentDateTime: '2025-01-01T10:00:00Z',
    'subject@odata.type': '#String',
    attachments: [
      { '@odata.type': '#microsoft.graph.fileAttachment', name: 'a.txt', contentBytes: 'SGVs\nbG8=', isInline: false },
      { '@odata.type': 'microsoft.graph.referenceAttachment', name: 'link' },
    ],
  };

  test('accepts a full message; enum literals match case-insensitively; annotations pass', () => {
    expect(schema.validateInstance(valid, 'microsoft.graph.message')).toBeUndefined();
  });

  test.each([
    ['Edm.Boolean given a string', { isRead: 'true' }, "'Edm.Boolean'"],
    ['DateTimeOffset not ISO', { sentDateTime: 'yesterday' }, "'Edm.DateTimeOffset'"],
    ['a complex given a string', { body: 'text' }, "A 'StartObject' node was expected"],
    ['a non-nullable property given null', { attachments: [{ '@odata.type': '#microsoft.graph.fileAttachment', isInline: null }] }, 'does not allow null values'],
    ['an @odata.type not in the model', { attachments: [{ '@odata.type': '#microsoft.graph.zipAttachment' }] }, 'could not be resolved'],
    ['an @odata.type of the wrong family', { attachments: [{ '@odata.type': '#microsoft.graph.message' }] }, 'not assignable'],
    ['base64url contentBytes', { attachments: [{ '@odata.type': '#microsoft.graph.fileAttachment', contentBytes: 'ab-_' }] }, 'Base-64'],
  ])('refuses %s', (_name, value, text) => {
    expect(schema.validateInstance(value, 'microsoft.graph.message')?.message).toContain(text);
  });

  test('action bodies come back under their schema names', () => {
    const result = schema.validateAction('sendMail', { message: { subject: 'x' }, saveToSentItems: false });
    expect(result).toEqual({ params: { Message: { subject: 'x' }, SaveToSentItems: false } });
  });
});

describe('base64 helpers', () => {
  test('valid, invalid, decoded length', () => {
    expect(isValidBase64('')).toBe(true);
    expect(isValidBase64('QUJD')).toBe(true);
    expect(isValidBase64('QUI=')).toBe(true);
    expect(isValidBase64('QUI')).toBe(false);
    expect(isValidBase64('QU=I')).toBe(false);
    expect(base64DecodedLength(Buffer.from('hello world').toString('base64'))).toBe(11);
    expect(base64DecodedLength('QUI=')).toBe(2);
  });
});
