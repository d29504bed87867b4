import { parseRecipients, splitAddressList, toGraphRecipients } from '../../nodes/lib/recipients';
import { MailError } from '../../nodes/lib/errors';

describe('recipients', () => {
  it('splits on commas and semicolons but not inside quotes or angle brackets', () => {
    expect(splitAddressList('a@x.org; "Smith, J" <j@x.org>, b@y.org')).toEqual(['a@x.org', '"Smith, J" <j@x.org>', 'b@y.org']);
  });

  it('parses display names and plain addresses', () => {
    expect(parseRecipients('Ada Lovelace <ada@example.com>, bob@example.com', 'to')).toEqual([
      { address: 'ada@example.com', name: 'Ada Lovelace' },
      { address: 'bob@example.com' },
    ]);
  });

  it('keeps quoted local parts quoted', () => {
    expect(parseRecipients('"john smith"@example.com', 'to')).toEqual([{ address: '"john smith"@example.com' }]);
  });

  it('allows a domain without a dot, as Exchange does', () => {
    expect(parseRecipients('admin@localdomain', 'to')).toEqual([{ address: 'admin@localdomain' }]);
  });

  it('accepts arrays of strings and of { address, name } objects', () => {
    expect(parseRecipients(['a@x.org', { address: 'b@x.org', name: 'B' }], 'cc')).toEqual([
      { address: 'a@x.org' },
      { address: 'b@x.org', name: 'B' },
    ]);
  });

  it('treats empty values as no recipients', () => {
    expect(parseRecipients(undefined, 'to')).toEqual([]);
    expect(parseRecipients('', 'to')).toEqual([]);
    expect(parseRecipients(' ; , ', 'to')).toEqual([]);
  });

  it('names the field and the value of a bad address', () => {
    let caught: unknown;
    try {
      parseRecipients('good@x.org, not an address', 'bcc');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(MailError);
    const error = caught as MailError;
    expect(error.category).toBe('validation');
    expect(error.code).toBe('InvalidAddress');
    expect(error.params).toMatchObject({ field: 'bcc', value: 'not an address' });
  });

  it('refuses objects without an address and other types', () => {
    expect(() => parseRecipients({ name: 'x' }, 'to')).toThrow(MailError);
    expect(() => parseRecipients(42, 'to')).toThrow(MailError);
  });

  it('builds Graph recipients', () => {
    expect(toGraphRecipients([{ address: 'a@x.org', name: 'A' }, { address: 'b@x.org' }])).toEqual([
      { emailAddress: { address: 'a@x.org', name: 'A' } },
      { emailAddress: { address: 'b@x.org' } },
    ]);
  });
});
