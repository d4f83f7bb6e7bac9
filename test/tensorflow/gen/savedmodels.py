"""SavedModels written by TensorFlow itself, for the SavedModel tests of `inspect`, `convert --inputs-as-nchw`,
`build` and `serve` (test/unit/helpers/tf-savedmodels.ts). Usage: savedmodels.py OUT_DIR

OUT_DIR/module/      a tf.Module with two signatures (serving_default: x float32 [-1, 3] -> y, z; scale: a float32
                     [2, -1], k int32 [] -> out)
OUT_DIR/keras/       a Keras CNN (NHWC [-1, 8, 8, 3]) exported with model.export
OUT_DIR/<m>.show.txt what `saved_model_cli show --dir <m> --all` prints
OUT_DIR/keras_in.npy, keras_out.npy, module_in.npy, module_y.npy, module_z.npy, scale_a.npy (k = 3),
                     scale_out.npy: inputs and TensorFlow's outputs
OUT_DIR/manifest.json  input/output names of the Keras export's serving_default
"""
import json
import os
import subprocess
import sys

import numpy as np
import tensorflow as tf

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(7)


class Two(tf.Module):
    def __init__(self):
        super().__init__()
        self.w = tf.Variable(rng.standard_normal((3, 4)).astype(np.float32))
        self.b = tf.Variable(rng.standard_normal((4,)).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name='x')])
    def serve(self, x):
        y = tf.matmul(x, self.w) + self.b
        return {'y': tf.nn.relu(y), 'z': tf.reduce_sum(y, axis=1)}

    @tf.function(input_signature=[tf.TensorSpec([2, None], tf.float32, name='a'), tf.TensorSpec([], tf.int32, name='k')])
    def scale(self, a, k):
        return {'out': a * tf.cast(k, tf.float32)}


m = Two()
mdir = os.path.join(out, 'module')
tf.saved_model.save(m, mdir, signatures={'serving_default': m.serve, 'scale': m.scale})
xin = rng.standard_normal((2, 3)).astype(np.float32)
r = m.serve(tf.constant(xin))
np.save(os.path.join(out, 'module_in.npy'), xin)
np.save(os.path.join(out, 'module_y.npy'), r['y'].numpy())
np.save(os.path.join(out, 'module_z.npy'), r['z'].numpy())
ain = rng.standard_normal((2, 5)).astype(np.float32)
np.save(os.path.join(out, 'scale_a.npy'), ain)
np.save(os.path.join(out, 'scale_out.npy'), m.scale(tf.constant(ain), tf.constant(3))['out'].numpy())

tf.keras.utils.set_random_seed(3)
inp = tf.keras.Input((8, 8, 3), name='images')
h = tf.keras.layers.Conv2D(4, 3, padding='same', activation='relu')(inp)
h = tf.keras.layers.MaxPooling2D(2)(h)
h = tf.keras.layers.Flatten()(h)
o = tf.keras.layers.Dense(5)(h)
model = tf.keras.Model(inp, o)
kdir = os.path.join(out, 'keras')
model.export(kdir, verbose=False)
kin = rng.standard_normal((2, 8, 8, 3)).astype(np.float32)
loaded = tf.saved_model.load(kdir)
sig = loaded.signatures['serving_default']
in_name = list(sig.structured_input_signature[1].keys())[0]
res = sig(**{in_name: tf.constant(kin)})
out_name = list(res.keys())[0]
np.save(os.path.join(out, 'keras_in.npy'), kin)
np.save(os.path.join(out, 'keras_out.npy'), res[out_name].numpy())

cli = os.path.join(os.path.dirname(sys.executable), 'saved_model_cli')
for name, d in (('module', mdir), ('keras', kdir)):
    p = subprocess.run([cli, 'show', '--dir', d, '--all'], capture_output=True, text=True, check=True)
    with open(os.path.join(out, name + '.show.txt'), 'w') as f:
        f.write(p.stdout)
with open(os.path.join(out, 'manifest.json'), 'w') as f:
    json.dump({'tensorflow': tf.__version__, 'keras': {'input': in_name, 'output': out_name}}, f)
