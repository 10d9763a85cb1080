import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { loadProgram, resolveProgramEntry } from "../offline/program";
import { PROJECT_ROOT, loadStackConfig } from "../offline/stack-files";
import { copyWorkingTree } from "../offline/working-copy";
import { Resources, evaluate, useMocks } from "./harness";

/**
 * A scratch copy of the project (never the repository itself) in the state `npm run build`
 * leaves it: the library compiled into package.json's `main`, which declares no resource.
 */
function builtCopy(pulumiYaml = fs.readFileSync(path.join(PROJECT_ROOT, "Pulumi.yaml"), "utf8")): string {
    const dir = copyWorkingTree(PROJECT_ROOT, "bluegreen-entry-");
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), pulumiYaml);
    const main = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).main as string;
    fs.mkdirSync(path.dirname(path.join(dir, main)), { recursive: true });
    // What tsc emits for components/index.ts: re-exports, no program function.
    fs.writeFileSync(path.join(dir, main), '"use strict";\nObject.defineProperty(exports, "__esModule", { value: true });\n');
    return dir;
}

describe("program entry (what Pulumi runs)", () => {
    const scratch: string[] = [];
    after(() => scratch.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));
    const copy = (yaml?: string) => {
        const dir = builtCopy(yaml);
        scratch.push(dir);
        return dir;
    };

    it("is pinned to index.ts by Pulumi.yaml main", () => {
        assert.deepEqual(resolveProgramEntry(), { path: path.join(PROJECT_ROOT, "index.ts"), source: "Pulumi.yaml main" });
    });

    it("stays index.ts after the library is built", () => {
        const dir = copy();
        assert.deepEqual(resolveProgramEntry(dir), { path: path.join(dir, "index.ts"), source: "Pulumi.yaml main" });
    });

    it("resolves like the runtime when Pulumi.yaml names no main: the built library would run", () => {
        // The trap this guards against, reproduced with the runtime's own rules.
        const withoutMain = fs.readFileSync(path.join(PROJECT_ROOT, "Pulumi.yaml"), "utf8").replace(/^main:.*\n/m, "");
        const dir = copy(withoutMain);
        const main = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).main;
        assert.deepEqual(resolveProgramEntry(dir), { path: path.join(dir, main), source: "package.json main" });
        fs.rmSync(path.join(dir, main));
        assert.deepEqual(resolveProgramEntry(dir), { path: dir, source: "project folder" }, "unbuilt: the runtime falls back to the folder");
        const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
        fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ ...pkg, exports: { ".": { require: "./index.ts" } } }));
        assert.deepEqual(resolveProgramEntry(dir), { path: path.join(dir, "index.ts"), source: "package.json exports" });
    });

    it("refuses to evaluate a module that exports no program function", async () => {
        await useMocks();
        const withoutMain = fs.readFileSync(path.join(PROJECT_ROOT, "Pulumi.yaml"), "utf8").replace(/^main:.*\n/m, "");
        await assert.rejects(loadProgram(copy(withoutMain)), /does not export a Pulumi program function/);
    });

    it("declares the whole dev stack from a built copy of the project", async () => {
        await useMocks();
        const dir = copy();
        const program = await loadProgram(dir);
        const ev = await evaluate(program, loadStackConfig("dev", {}, dir));
        assert.equal(ev.error, undefined);
        const r = new Resources(ev.resources);
        assert.equal(r.ofType("gke-istio-bluegreen:index:BlueGreenEnvironment").length, 1);
        assert.equal(r.ofKind("VirtualService").length, 1);
        assert.equal(r.ofKind("Deployment").length, 2);
    });
});
