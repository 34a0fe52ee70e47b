// Where the tests find an exported model: $MINILM_JS_MODEL, else js/.model/ (git-ignored), which is
// made on first use with `python -m minilm export` ($PYTHON, else ../.venv/bin/python, else python3).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export function modelDir() {
  if (process.env.MINILM_JS_MODEL) return process.env.MINILM_JS_MODEL;
  const dir = join(root, '.model');
  if (existsSync(join(dir, 'model.onnx')) && existsSync(join(dir, 'tokenizer.json'))) return dir;
  const venv = join(root, '..', '.venv', 'bin', 'python');
  const python = process.env.PYTHON || (existsSync(venv) ? venv : 'python3');
  try {
    execFileSync(python, ['-m', 'minilm', 'export', '--out', join(dir, 'model.onnx')], { cwd: join(root, '..'), stdio: 'pipe' });
    return dir;
  } catch (err) {
    return { skip: `no exported model: set MINILM_JS_MODEL or make one with 'minilm export --out js/.model/model.onnx' (${python}: ${String(err.stderr || err.message).trim().split('\n').pop()})` };
  }
}
