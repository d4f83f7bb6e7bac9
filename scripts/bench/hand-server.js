'use strict';
/**
 * The baseline of scripts/bench/serve.js --versus: the model server a user writes by hand with Fastify and
 * onnxruntime-node (KServe v2 JSON in, session.run, JSON out; the binary tensor extension's raw input too, since the
 * benchmark sends both). One session with onnxruntime's default options, no batching, no worker thread.
 *   node scripts/bench/hand-server.js <model.onnx>     logs {"address": "http://127.0.0.1:<port>"}
 */
const Fastify = require('fastify');
const ort = require('onnxruntime-node');

async function main() {
  const session = await ort.InferenceSession.create(process.argv[2]);
  const app = Fastify({ bodyLimit: 64 * 1024 * 1024 });
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  app.get('/v2/health/ready', async () => ({ ready: true }));
  app.post('/v2/models/:model/infer', async (req) => {
    let request = req.body;
    let raw = null;
    if (Buffer.isBuffer(req.body)) { // binary extension: JSON header, then the raw tensor
      const n = Number(req.headers['inference-header-content-length']);
      request = JSON.parse(req.body.subarray(0, n).toString());
      raw = req.body.subarray(n);
    }
    const input = request.inputs[0];
    const data = raw ? new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)) : Float32Array.from(input.data);
    const results = await session.run({ [input.name]: new ort.Tensor('float32', data, input.shape) });
    const outputs = Object.entries(results).map(([name, t]) => ({ name, shape: t.dims, datatype: 'FP32', data: Array.from(t.data) }));
    return { model_name: req.params.model, outputs };
  });
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  console.log(JSON.stringify({ address }));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
