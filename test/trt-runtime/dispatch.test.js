'use strict';
// The dispatch runtime (libnvinfer_dispatch.so.<major>): see suite.js.
require('./suite').defineSuite('dispatch', __filename);
