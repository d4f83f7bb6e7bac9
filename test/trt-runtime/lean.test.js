'use strict';
// The lean runtime (libnvinfer_lean.so.<major>): see suite.js.
require('./suite').defineSuite('lean', __filename);
