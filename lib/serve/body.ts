/**
 * Request bodies as raw bytes, for the protocols to parse themselves (JSON, or Triton's binary tensor extension).
 *
 * Fastify's own raw-body reader (parseAs: 'buffer') keeps the chunks and joins them with one Buffer.concat when the
 * body ends: for a 60 MiB body that is one copy of 60 MiB into fresh memory on the event loop (about 40 ms here, the
 * longest stall left once JSON is parsed off the loop: json-offload.ts). This reader does what Fastify's does — the
 * same body limit, the same errors (Fastify's own codes: 413 FST_ERR_CTP_BODY_TOO_LARGE, 400
 * FST_ERR_CTP_INVALID_CONTENT_LENGTH) — but where Content-Length is given it copies each chunk into a buffer of that
 * size as it arrives, so the copying is spread over the receive. Without one (chunked), chunks are joined at the end.
 *
 * `Content-Encoding: gzip | deflate` (tritonclient's request_compression_algorithm) is then decoded on the libuv
 * pool (zlib's async API), its output bounded by the same limit; any other encoding is 415.
 */
import { errorCodes } from 'fastify';
import type { IncomingHttpHeaders } from 'http';
import type { Readable } from 'stream';
import * as zlib from 'zlib';
import { invalidArg } from '../errors';

type Payload = Readable & { receivedEncodedLength?: number };

/** Reads a request's body into one Buffer (see above); rejects with Fastify's errors for its limit and length. */
export function readBody(payload: Payload, headers: IncomingHttpHeaders, limit: number): Promise<Buffer> {
  const contentLength = Number(headers['content-length']);
  if (contentLength > limit) return Promise.reject(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
  const sized = Number.isSafeInteger(contentLength) && contentLength >= 0;
  const target = sized ? Buffer.allocUnsafeSlow(contentLength) : null;
  const chunks: Buffer[] = [];
  let received = 0;
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      payload.removeListener('data', onData);
      payload.removeListener('end', onEnd);
      payload.removeListener('error', onError);
    };
    const onData = (c: Buffer | string) => {
      const chunk = typeof c === 'string' ? Buffer.from(c) : c;
      const at = received;
      received += chunk.length;
      if (received > limit || (payload.receivedEncodedLength ?? 0) > limit) {
        cleanup();
        reject(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
        return;
      }
      if (target) {
        if (received > target.length) {
          cleanup();
          reject(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH());
          return;
        }
        chunk.copy(target, at);
      } else {
        chunks.push(chunk);
      }
    };
    const onEnd = () => {
      cleanup();
      if (sized && (payload.receivedEncodedLength || received) !== contentLength) {
        reject(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH());
        return;
      }
      resolve(target ?? Buffer.concat(chunks, received));
    };
    const onError = (err: Error & { statusCode?: number }) => {
      cleanup();
      if (!(typeof err.statusCode === 'number' && err.statusCode >= 400)) err.statusCode = 400;
      reject(err);
    };
    payload.on('data', onData);
    payload.on('end', onEnd);
    payload.on('error', onError);
    payload.resume();
  });
}

/** The body with its Content-Encoding undone (gzip, deflate; identity as is); 415 for others, 413 past `limit`. */
export function decodeContentEncoding(body: Buffer, headers: IncomingHttpHeaders, limit: number): Promise<Buffer> {
  const enc = String(headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (enc === 'identity' || enc === '') return Promise.resolve(body);
  if (enc !== 'gzip' && enc !== 'deflate' && enc !== 'x-gzip') {
    return Promise.reject(Object.assign(new Error(`Content-Encoding '${enc}' is not supported (gzip, deflate or identity)`), { statusCode: 415 }));
  }
  const inflate = enc === 'deflate' ? zlib.inflate : zlib.gunzip;
  return new Promise((resolve, reject) => {
    inflate(body, { maxOutputLength: limit }, (err, out) => {
      if (!err) return resolve(out);
      const tooLarge = (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
      reject(tooLarge
        ? Object.assign(new Error(`the request body, decoded (${enc}), is larger than the limit of ${limit} bytes (--max-body-size)`), { statusCode: 413 })
        : invalidArg(`the request body is not valid ${enc} data: ${err.message}`));
    });
  });
}
