// Preloaded (node --require) by scripts/fuzz-js.sh where @jazzer.js/fuzzer's prebuilt addon does not load
// on this system: loads JAZZER_FUZZER_ADDON (test/fuzz/jazzer/addon/fuzzer.cpp, built against the
// system's libFuzzer) in its place.
'use strict';
const Module = require('node:module');

const replacement = process.env.JAZZER_FUZZER_ADDON;
if (replacement) {
  const load = Module._extensions['.node'];
  Module._extensions['.node'] = function (module, filename) {
    const prebuilt = /[\\/]@jazzer\.js[\\/]fuzzer[\\/]prebuilds[\\/]fuzzer-[^\\/]+\.node$/.test(filename);
    return load.call(this, module, prebuilt ? replacement : filename);
  };
}
