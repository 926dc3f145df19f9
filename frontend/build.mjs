// `npm ci && npm run build`: bundle src/ with esbuild and copy LiteRT.js's single-threaded WebAssembly (with and
// without relaxed SIMD), the page and the two model files into fer_utils/static/browser_live/, which ships in the
// Python package: users of the web app need no Node.js, and nothing is fetched from the internet at run time.
// The emotion model's batch-1 file is made by Python (`python -m fer_utils.browser_live`), not here.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
// FER_BUILD_OUT: build elsewhere (tests/test_browser_live.py compares that build with the shipped files)
const out = process.env.FER_BUILD_OUT || join(here, '..', 'fer_utils', 'static', 'browser_live');
const wasm = join(here, 'node_modules', '@litertjs', 'core', 'wasm');
mkdirSync(join(out, 'wasm'), { recursive: true });
mkdirSync(join(out, 'models'), { recursive: true });

await build({ entryPoints: [join(here, 'src', 'main.js')], bundle: true, format: 'esm', minify: true,
  target: 'es2022', outfile: join(out, 'fer_live.js'), logLevel: 'warning' });
for (const name of ['index.html', 'style.css']) copyFileSync(join(here, 'src', name), join(out, name));
copyFileSync(join(here, 'THIRD_PARTY.md'), join(out, 'THIRD_PARTY.md'));
// single-threaded builds only: threads need COOP/COEP headers, which Streamlit does not send
for (const name of ['litert_wasm_internal', 'litert_wasm_compat_internal']) {
  for (const ext of ['.js', '.wasm']) copyFileSync(join(wasm, name + ext), join(out, 'wasm', name + ext));
}
copyFileSync(join(here, '..', 'fer_utils', 'detectors', 'face_detection_full_range.tflite'),
  join(out, 'models', 'face_detection_full_range.tflite'));
if (process.env.FER_BUILD_OUT) process.exit(0);

const sizes = (dir) => readdirSync(dir).flatMap((n) => {
  const p = join(dir, n);
  return statSync(p).isDirectory() ? sizes(p) : [[p.slice(out.length + 1), statSync(p).size]];
});
for (const [name, size] of sizes(out)) console.log(`${(size / 1e6).toFixed(2).padStart(7)} MB  ${name}`);
