import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as ts from "typescript";

interface Transpiler {
    transpile(input: string, options: { fileName: string }): { outputText: string; sourceMapText?: string };
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { create } = require("../runtime/cached-transpiler") as {
    create(options: { service: { config: { options: ts.CompilerOptions } }; cacheDirectory?: string }): Transpiler;
};

describe("the cached transpiler (runtime/cached-transpiler.js)", () => {
    let cacheDirectory: string;
    const compilerOptions: ts.CompilerOptions = { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, sourceMap: true };
    const transpiler = (options = compilerOptions) => create({ service: { config: { options } }, cacheDirectory });
    const fileName = "/project/components/example.ts";
    const source = "export const answer: number = 42;\nexport class A { constructor(public readonly x: string) {} }\n";

    beforeEach(() => {
        cacheDirectory = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-ts-cache-"));
    });
    afterEach(() => fs.rmSync(cacheDirectory, { recursive: true, force: true }));

    const entries = () => fs.readdirSync(cacheDirectory);
    /** Replaces the output stored in the one cache entry, keeping its source hash. */
    const plant = (outputText: string) => {
        const [entry] = entries();
        const file = path.join(cacheDirectory, entry);
        fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, "utf8")), outputText }));
    };

    it("produces what TypeScript's transpileModule produces, and stores it", () => {
        const out = transpiler().transpile(source, { fileName });
        const expected = ts.transpileModule(source, { fileName, compilerOptions });
        assert.equal(out.outputText, expected.outputText);
        assert.equal(out.sourceMapText, expected.sourceMapText);
        assert.equal(entries().length, 1);
    });

    it("serves an unchanged file from the cache in a later process", () => {
        transpiler().transpile(source, { fileName });
        plant("// from the cache\n");
        assert.equal(transpiler().transpile(source, { fileName }).outputText, "// from the cache\n");
    });

    it("transpiles again when the source or the compiler options change, one entry per file and settings", () => {
        transpiler().transpile(source, { fileName });
        plant("// stale\n");
        const changed = source.replace("42", "43");
        assert.match(transpiler().transpile(changed, { fileName }).outputText, /answer = 43/);
        assert.equal(entries().length, 1, "the file's entry is replaced, not added to");
        const es5 = transpiler({ ...compilerOptions, target: ts.ScriptTarget.ES5 }).transpile(changed, { fileName }).outputText;
        assert.match(es5, /var A = \/\*\* @class \*\/ \(function \(\)/, "ES5 output, not the ES2022 entry");
        assert.equal(entries().length, 2);
    });

    it("still transpiles when the cache cannot be written", () => {
        fs.rmSync(cacheDirectory, { recursive: true });
        fs.writeFileSync(cacheDirectory, "a file where the directory should be");
        assert.match(transpiler().transpile(source, { fileName }).outputText, /answer = 42/);
        fs.rmSync(cacheDirectory);
        fs.mkdirSync(cacheDirectory);
    });
});
