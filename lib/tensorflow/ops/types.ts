import type { TfNode } from '../graph';
import type { Ctx, Value } from '../context';

/** Converts one TF node: its inputs' values in, one value per TF output out. */
export type Handler = (c: Ctx, n: TfNode, ins: Value[]) => Value[];
export type OpTable = Record<string, Handler>;
