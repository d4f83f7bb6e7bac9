{
  # node-gyp build of the tensorrt_node addon. Dependencies are located by scripts/find-deps.js
  # (TensorRT headers optional: TENSORRT_INCLUDE_DIR / TENSORRT_ROOT / system paths; CUDA required:
  # CUDA_PATH / CUDA_HOME / /usr/local/cuda). CMakeLists.txt builds the same sources with cmake-js.
  # Sources: every native/*.cc (the CUDA layer: device.cc, memory.cc, pageable.cc, stream.cc, completion.cc).
  "targets": [
    {
      "target_name": "tensorrt_node",
      "sources": ["<!@(node scripts/find-deps.js sources)"],
      "defines": ["<!@(node scripts/find-deps.js defines)"],
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++20"],
      "cflags_cc": ["<!@(node scripts/find-deps.js cflags)"],
      "libraries": ["<!@(node scripts/find-deps.js libs)"],
      "ldflags": ["-Wl,--exclude-libs,ALL"],
      "conditions": [
        ["OS!='linux'", { "type": "none" }]
      ]
    }
  ]
}
