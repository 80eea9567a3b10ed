/** A stream stage that stops a download once it brings more bytes than a record said it has. */
import { Transform } from 'node:stream';
import { RemoteEntryRefused } from './untrusted.js';

export function byteLimit(maxBytes: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      if (seen > maxBytes) callback(new RemoteEntryRefused(`it has more than the ${maxBytes} bytes its record gives`));
      else callback(null, chunk);
    },
  });
}
