import { describe, expect, it } from '@jest/globals';
import { createHmac } from 'node:crypto';
import { HmacSha256 } from './hmac-sha256.js';

const hex = (value: string) => Buffer.from(value, 'base64url').toString('hex');

describe('HmacSha256', () => {
  // RFC 4231 section 4, the test cases whose data is text (cases 3 and 4 hash bytes that are not UTF-8).
  it.each([
    ['1', Buffer.alloc(20, 0x0b), 'Hi There', 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7'],
    [
      '2',
      Buffer.from('Jefe'),
      'what do ya want for nothing?',
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    ],
    [
      '6 (key longer than a block)',
      Buffer.alloc(131, 0xaa),
      'Test Using Larger Than Block-Size Key - Hash Key First',
      '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54',
    ],
    [
      '7 (key and data longer than a block)',
      Buffer.alloc(131, 0xaa),
      'This is a test using a larger than block-size key and a larger than block-size data. ' +
        'The key needs to be hashed before being used by the HMAC algorithm.',
      '9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2',
    ],
  ])('matches RFC 4231 test case %s', (_, key, data, expected) => {
    expect(hex(new HmacSha256(key).digest(data))).toBe(expected);
  });

  it('gives the same bytes as createHmac for short, block-sized and long secrets and any message', () => {
    for (const secret of ['p'.repeat(16), 'q'.repeat(64), 'r'.repeat(65), 'ünïcödé-pepper-0000', 's'.repeat(300)]) {
      const hmac = new HmacSha256(Buffer.from(secret));
      // Messages past 256 bytes grow the buffer; the shorter ones after it reuse it.
      for (const message of [
        'a',
        'sk_live_0123456789abcdef',
        'x'.repeat(256),
        'ключ',
        'y'.repeat(1000),
        'a',
        'ключ'.repeat(400),
        '',
      ]) {
        expect(hmac.digest(message)).toBe(createHmac('sha256', secret).update(message).digest('base64url'));
      }
    }
  });
});
