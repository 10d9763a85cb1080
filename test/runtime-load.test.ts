import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { inspect } from "node:util";
import { parse } from "yaml";
import { ConfigError } from "../components/validation";
import { PROJECT_ROOT } from "../offline/stack-files";
import { DEV_ON_EXISTING_CLUSTER } from "./harness";

// The Pulumi Node.js runtime's own reader of the tsconfig it is given (cmd/run/run.js calls it
// to decide whether ts-node type-checks).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { loadTypeScriptCompilerOptions } = require("@pulumi/pulumi/tsutils") as { loadTypeScriptCompilerOptions(p: string): Record<string, unknown> };
// How the runtime turns an error the program throws into the text `pulumi preview` shows.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { defaultErrorMessage } = require("@pulumi/pulumi/cmd/run/error") as { defaultErrorMessage(err: unknown): string };

/** `runtime.options.tsconfig` of Pulumi.yaml: the file `pulumi up` compiles the program with. */
function runtimeTsconfig(): string | undefined {
    return parse(fs.readFileSync(path.join(PROJECT_ROOT, "Pulumi.yaml"), "utf8"))?.runtime?.options?.tsconfig;
}

interface ChildReport {
    transpileOnly: unknown;
    /** Entries the cached transpiler wrote. */
    cached: number;
    error?: string;
    types: string[];
    gcpModules: number;
}

/**
 * Loads and evaluates the program in a fresh Node.js process set up the way the runtime sets up a
 * TypeScript program (cmd/run/run.js: PULUMI_NODEJS_TSCONFIG_PATH from Pulumi.yaml, transpileOnly
 * from the tsconfig's own noCheck, its compilerOptions over the runtime's defaults), under the mock
 * engine; reports what it declared and whether any module of @pulumi/gcp was loaded.
 */
function evaluateInFreshProcess(overrides: Record<string, string>): ChildReport {
    const cache = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-ts-cache-"));
    const script = `
        const path = require("path");
        const { loadTypeScriptCompilerOptions } = require("@pulumi/pulumi/tsutils");
        const tsconfig = process.env.PULUMI_NODEJS_TSCONFIG_PATH;
        const compilerOptions = loadTypeScriptCompilerOptions(tsconfig);
        const transpileOnly = compilerOptions.noCheck;
        require("ts-node").register({ project: tsconfig, transpileOnly, compilerOptions: {
            target: "ES2020", module: "nodenext", moduleResolution: "nodenext", sourceMap: "true", ...compilerOptions } });
        (async () => {
            const { useMocks, evaluate } = require("./offline/engine");
            const { loadProgram } = require("./offline/program");
            const { loadStackConfig } = require("./offline/stack-files");
            await useMocks();
            const ev = await evaluate(await loadProgram(), loadStackConfig("dev", JSON.parse(process.argv[1])));
            const gcpModules = Object.keys(require.cache).filter((f) => f.includes(path.join("node_modules", "@pulumi", "gcp") + path.sep)).length;
            const cached = require("fs").readdirSync(process.env.BLUEGREEN_TS_CACHE_DIR).length;
            process.stdout.write(JSON.stringify({ transpileOnly, cached, error: ev.error?.message, types: ev.resources.map((r) => r.type), gcpModules }));
        })().catch((e) => { console.error(e); process.exit(1); });`;
    const r = spawnSync(process.execPath, ["-e", script, JSON.stringify(overrides)], {
        cwd: PROJECT_ROOT,
        env: { ...process.env, PULUMI_NODEJS_TSCONFIG_PATH: runtimeTsconfig() ?? "tsconfig.json", BLUEGREEN_TS_CACHE_DIR: cache },
        encoding: "utf8",
    });
    fs.rmSync(cache, { recursive: true, force: true });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout);
}

describe("the program as the Pulumi runtime loads it", function () {
    this.timeout(120_000);

    it("is compiled without type-checking (tsc in npm test checks it), from a tsconfig the runtime reads", () => {
        const tsconfig = runtimeTsconfig();
        assert.ok(tsconfig, "Pulumi.yaml runtime.options.tsconfig names the program's tsconfig");
        assert.ok(fs.existsSync(path.join(PROJECT_ROOT, tsconfig)), `${tsconfig} exists (else the runtime refuses to run)`);
        // The runtime reads only the file's own compilerOptions, never an extended file's.
        assert.equal(loadTypeScriptCompilerOptions(path.join(PROJECT_ROOT, tsconfig)).noCheck, true);
        assert.equal(loadTypeScriptCompilerOptions(path.join(PROJECT_ROOT, "tsconfig.json")).noCheck, undefined, "npm test's tsc --noEmit still type-checks");
    });

    it("targets an existing cluster without loading @pulumi/gcp", () => {
        const report = evaluateInFreshProcess({ ...DEV_ON_EXISTING_CLUSTER });
        assert.equal(report.transpileOnly, true);
        assert.ok(report.cached >= 10, `the program's files went through the cached transpiler (${report.cached} entries)`);
        assert.equal(report.error, undefined);
        assert.ok(report.types.includes("kubernetes:networking.istio.io/v1:VirtualService"), report.types.join(", "));
        assert.ok(!report.types.some((t) => t.startsWith("gcp:")), "declares no GCP resource");
        assert.equal(report.gcpModules, 0, "no module of @pulumi/gcp was loaded");
    });

    it("loads @pulumi/gcp when it builds a cluster", () => {
        const report = evaluateInFreshProcess({});
        assert.equal(report.error, undefined);
        assert.ok(report.types.includes("gcp:container/cluster:Cluster"));
        assert.ok(report.gcpModules > 0);
    });

    it("reports a refused configuration with its message, stack and problems, through the runtime's formatting", () => {
        const error = new ConfigError([{ setting: "activeColor", message: 'got "purple"; allowed values: blue, green' }]);
        // The frames a refusal has under the real runtime: the SDK's source maps place them directly
        // under node_modules/@pulumi/, where Node 20.20's colored stack formatting loops until the
        // string overflows (nodejs/node#64011): here that would throw "Invalid string length".
        error.stack = [
            "ConfigError: " + error.message,
            "    at module.exports (/project/index.ts:13:44)",
            "    at async Stack.initialize (/project/node_modules/@pulumi/runtime/stack.ts:78:28)",
            "    at async Stack.initializeAndRegisterOutputs (/project/node_modules/@pulumi/resource.ts:1598:22)",
        ].join("\n");
        // The runtime falls back to plain formatting after that overflow, so the text alone cannot
        // tell; the colored formatting it tries first must succeed.
        assert.ok(inspect(error, { colors: true }).includes("activeColor"));
        const text = defaultErrorMessage(error);
        assert.ok(text.startsWith(error.stack), text);
        assert.match(text, /problems: \[\s*\{\s*setting: 'activeColor',\s*message: 'got "purple"; allowed values: blue, green'/);
    });
});
