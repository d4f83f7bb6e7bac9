/**
 * What a protocol module (tfserving.ts, kserve-v2.ts) gets from the server: its own file, so that the protocols
 * depend on it and not on server.ts, which registers them.
 */
import type { FastifyRequest } from 'fastify';
import type { BatchResult } from '../batcher';
import type { ModelVersion, Repository } from '../repository';
import type { Tensor } from '../tensor';

/** What the protocol modules get from the server. */
export interface ProtocolContext {
  repository: Repository;
  version: string;
  /** Server readiness (strict: every model loaded); `server` false: only "not draining and a model can run". */
  ready(server?: boolean): boolean;
  /** Records the protocol / model of a request for the metrics (`infer`: an inference request). */
  label(req: FastifyRequest, protocol: string, model?: string, infer?: boolean): void;
  /** Checks the decoded tensors against the model's inputs and runs them through its batcher. */
  infer(req: FastifyRequest, mv: ModelVersion, tensors: Record<string, Tensor>): Promise<BatchResult>;
}
