{
  "targets": [
    {
      "target_name": "aigc_fast",
      "sources": ["src/fast.cc", "src/runtime.cc", "src/sgemm.cc", "src/reductions.cc", "src/elementwise.cc", "src/conv.cc", "src/optim.cc", "src/norm.cc"],
      "cflags_cc!": ["-fno-exceptions", "-O2"],
      "cflags_cc": ["-O3", "-std=c++17", "-fno-math-errno"],
      "cflags!": ["-O2"],
      "cflags": ["-O3"]
    }
  ]
}
