/**
 * Reads the data out of JS-wrapped TF.js files (nsfwjs ships `model.min.js` and `group1-shard1of2.min.js`:
 * browserify bundles whose one module does `module.exports = <object literal | "base64">`) WITHOUT executing
 * them: a model package's JavaScript is never run. The literal grammar accepted is the subset minifiers emit
 * for data: objects (quoted or bare keys), arrays, strings, numbers (`.5`, `1e-3`, `-x`), `!0`/`!1`, true,
 * false, null. No library parses JS literals without evaluating them (JSON5 rejects `!0`), hence this one.
 */
import { TensorRTError } from '../errors';

export type Literal = null | boolean | number | string | Literal[] | { [k: string]: Literal };

class LiteralParser {
  pos = 0;
  constructor(readonly src: string, readonly what: string) {}

  fail(msg: string): never {
    throw new TensorRTError('PARSE_ERROR', `${this.what}: ${msg} at offset ${this.pos}`);
  }

  ws(): void {
    const s = this.src;
    while (this.pos < s.length && /\s/.test(s[this.pos]!)) this.pos++;
  }

  value(): Literal {
    this.ws();
    const c = this.src[this.pos];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"' || c === "'") return this.string();
    if (c === '!') {
      this.pos++;
      const v = this.value();
      return !v;
    }
    if (c === '-' || c === '+' || c === '.' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
    const m = /^(true|false|null|void 0)/.exec(this.src.slice(this.pos, this.pos + 6));
    if (m) {
      this.pos += m[1]!.length;
      return m[1] === 'true' ? true : m[1] === 'false' ? false : null;
    }
    return this.fail(`unexpected ${JSON.stringify(c ?? 'end of input')}`);
  }

  number(): number {
    const m = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?/.exec(this.src.slice(this.pos, this.pos + 64));
    if (!m) return this.fail('bad number');
    this.pos += m[0].length;
    return Number(m[0]);
  }

  string(): string {
    const q = this.src[this.pos++];
    let out = '';
    const s = this.src;
    for (;;) {
      // Fast path: copy up to the next quote or backslash.
      let j = this.pos;
      while (j < s.length && s[j] !== q && s[j] !== '\\') j++;
      out += s.slice(this.pos, j);
      this.pos = j;
      if (j >= s.length) return this.fail('unterminated string');
      if (s[j] === q) {
        this.pos++;
        return out;
      }
      const e = s[j + 1];
      this.pos = j + 2;
      switch (e) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case '0': out += '\0'; break;
        case 'u': out += String.fromCharCode(parseInt(s.slice(this.pos, this.pos + 4), 16)); this.pos += 4; break;
        case 'x': out += String.fromCharCode(parseInt(s.slice(this.pos, this.pos + 2), 16)); this.pos += 2; break;
        default: out += e ?? '';
      }
    }
  }

  key(): string {
    this.ws();
    const c = this.src[this.pos];
    if (c === '"' || c === "'") return this.string();
    const m = /^[A-Za-z_$0-9][A-Za-z_$0-9]*/.exec(this.src.slice(this.pos, this.pos + 256));
    if (!m) return this.fail('bad key');
    this.pos += m[0].length;
    return m[0];
  }

  object(): { [k: string]: Literal } {
    this.pos++;
    const o: { [k: string]: Literal } = {};
    for (;;) {
      this.ws();
      if (this.src[this.pos] === '}') { this.pos++; return o; }
      const k = this.key();
      this.ws();
      if (this.src[this.pos] !== ':') this.fail("expected ':'");
      this.pos++;
      o[k] = this.value();
      this.ws();
      if (this.src[this.pos] === ',') this.pos++;
      else if (this.src[this.pos] !== '}') this.fail("expected ',' or '}'");
    }
  }

  array(): Literal[] {
    this.pos++;
    const a: Literal[] = [];
    for (;;) {
      this.ws();
      if (this.src[this.pos] === ']') { this.pos++; return a; }
      a.push(this.value());
      this.ws();
      if (this.src[this.pos] === ',') this.pos++;
      else if (this.src[this.pos] !== ']') this.fail("expected ',' or ']'");
    }
  }
}

/** Parses one JS data literal starting at `offset` of `src`. */
export function parseLiteral(src: string, what: string, offset = 0): Literal {
  const p = new LiteralParser(src, what);
  p.pos = offset;
  return p.value();
}

/**
 * The value a JS-wrapped file exports (`exports=` followed by a literal), or the file parsed as JSON when it is
 * plain JSON. Throws PARSE_ERROR when neither.
 */
export function wrappedExport(src: string, what: string): Literal {
  const t = src.trimStart();
  if (t.startsWith('{') || t.startsWith('[')) {
    try {
      return JSON.parse(t) as Literal;
    } catch {
      return parseLiteral(t, what);
    }
  }
  const m = /\.exports\s*=\s*(?=[{["'])/.exec(src);
  if (!m) throw new TensorRTError('PARSE_ERROR', `${what}: neither JSON nor a JS-wrapped module with "exports = <literal>"`);
  return parseLiteral(src, what, m.index + m[0].length);
}
