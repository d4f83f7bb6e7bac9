/**
 * The one error reply of the HTTP protocols (tfserving.ts, kserve-v2.ts): both answer `{"error": "..."}` with the
 * status `httpStatusFor` maps the error to, `Retry-After` where the error carries one (queue full, draining), and
 * log at error level only what is the server's fault (5xx other than 503 / 504).
 */
import type { FastifyReply } from 'fastify';
import { httpStatusFor } from '../tensor';

export function sendError(reply: FastifyReply, e: unknown, what: string): FastifyReply {
  const status = httpStatusFor(e);
  const retry = (e as { retryAfter?: number }).retryAfter;
  if (retry) reply.header('Retry-After', String(retry));
  if (status >= 500 && status !== 503 && status !== 504) reply.log.error({ err: e }, `${what} failed`);
  return reply.code(status).type('application/json').send({ error: (e as Error).message ?? String(e) });
}
