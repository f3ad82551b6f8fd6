/**
 * The documentation a user reads: README.md at most 250 lines; every link in README.md, docs/*.md
 * and examples/README.md that is relative resolves to a file or folder of the repository (and an
 * anchor to a heading of its page); none leaves the repository (no ../shared, nothing outside the
 * checkout), and no web link points at this project's own files (a clone or the package has them).
 */
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.join(__dirname, '..', '..');
const PAGES = [
  'README.md',
  'examples/README.md',
  ...fs.readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`),
];

/** Markdown links `[text](target)` outside code blocks and code spans. */
function links(text: string): string[] {
  const prose = text.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]).concat([...prose.matchAll(/<(https?:[^>\s]+)>/g)].map((m) => m[1]));
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function anchors(text: string): Set<string> {
  const prose = text.replace(/```[\s\S]*?```/g, '');
  return new Set([...prose.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1])));
}

describe('README.md and docs/', () => {
  it('README.md is at most 250 lines', () => {
    expect(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8').split('\n').length).toBeLessThanOrEqual(250);
  });

  it('the pages exist: the CLI reference, conventions, performance, architecture, semantics, guide, using models', () => {
    for (const page of ['cli', 'conventions', 'performance', 'architecture', 'semantics', 'guide', 'using-models']) expect(PAGES).toContain(`docs/${page}.md`);
  });

  it.each(PAGES)('%s: every relative link resolves inside the repository; no web link to our own files', (page) => {
    const text = fs.readFileSync(path.join(ROOT, page), 'utf8');
    const found = links(text);
    expect(text).not.toMatch(/\.\.\/shared\b/);
    for (const target of found) {
      if (/^[a-z]+:/i.test(target)) {
        expect([target, /^https?:/.test(target) && !/focal-onnx/i.test(target)]).toEqual([target, true]);
        continue;
      }
      const [file, anchor] = target.split('#');
      const resolved = file === '' ? path.join(ROOT, page) : path.resolve(path.dirname(path.join(ROOT, page)), decodeURIComponent(file));
      expect([target, path.relative(ROOT, resolved).startsWith('..')]).toEqual([target, false]);
      expect([target, fs.existsSync(resolved)]).toEqual([target, true]);
      if (anchor) expect([target, anchors(fs.readFileSync(resolved, 'utf8')).has(anchor)]).toEqual([target, true]);
    }
  });

  it('the link checker sees the links (README links to each docs page)', () => {
    const found = links(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8'));
    for (const page of PAGES.filter((p) => p.startsWith('docs/'))) expect(found).toContain(page);
  });
});
