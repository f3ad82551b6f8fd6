import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { RECORD_ENV, recordModel, sanitizeModelName } from './record-model';

describe('recordModel', () => {
  const saved = process.env[RECORD_ENV];
  afterEach(() => {
    if (saved === undefined) delete process.env[RECORD_ENV];
    else process.env[RECORD_ENV] = saved;
  });

  it('does nothing when FOCAL_RECORD_MODELS is unset or empty', () => {
    delete process.env[RECORD_ENV];
    expect(recordModel('a', new Uint8Array([1]))).toBeUndefined();
    process.env[RECORD_ENV] = '';
    expect(recordModel('a', new Uint8Array([1]))).toBeUndefined();
  });

  it('writes <dir>/<sanitized name>.onnx, creating the directory and keeping names unique', () => {
    const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'record-')), 'nested', 'dir');
    process.env[RECORD_ENV] = dir;
    const first = recordModel('ops/Add float32 + literal 3', new Uint8Array([1, 2]));
    const second = recordModel('ops/Add float32 + literal 3', new Uint8Array([3]));
    expect(first).toBe(path.join(dir, 'ops_Add_float32_literal_3.onnx'));
    expect(second).toBe(path.join(dir, 'ops_Add_float32_literal_3-2.onnx'));
    expect([...fs.readFileSync(first as string)]).toEqual([1, 2]);
    expect([...fs.readFileSync(second as string)]).toEqual([3]);
    fs.rmSync(path.dirname(path.dirname(dir)), { recursive: true, force: true });
  });

  it.each([
    ['../../etc/passwd', 'etc_passwd'],
    ['a\u00e9b c', 'a_b_c'],
    ['...', 'model'],
    ['', 'model'],
    ['x'.repeat(300), 'x'.repeat(120)],
  ])('sanitizes %p to %p', (name, stem) => {
    expect(sanitizeModelName(name)).toBe(stem);
  });
});
