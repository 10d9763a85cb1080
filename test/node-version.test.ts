import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";

const root = path.join(__dirname, "..");
const read = (file: string) => fs.readFileSync(path.join(root, file), "utf8");
// semver is what npm itself uses to read engines ranges.
const semver = require("semver") as { satisfies(version: string, range: string): boolean; minVersion(range: string): { version: string } };
const { nodeVersionProblem } = require("../scripts/check-node.js") as { nodeVersionProblem(version: string, range: string): string | null };

describe("one supported Node.js range", () => {
    const engines: string = JSON.parse(read("package.json")).engines.node;
    const low = read(".node-version").trim();
    const nodeScript = read("scripts/node.sh");
    const high = /^NODE_HIGH=(\S+)$/m.exec(nodeScript)?.[1] ?? "";

    it("engines starts at a maintained release line; .node-version is its oldest pinned build, the one CI and the workflows use", () => {
        assert.equal(engines, ">=22.12.0", "Node 20 reached end of life in April 2026; the locked dev dependencies need 22");
        assert.match(low, /^\d+\.\d+\.\d+$/, ".node-version holds one exact version");
        assert.ok(semver.satisfies(low, engines), `${low} is inside ${engines}`);
        assert.equal(low.split(".")[0], semver.minVersion(engines).version.split(".")[0], ".node-version is the low end's major");
        assert.ok(semver.satisfies(high, engines) && Number(high.split(".")[0]) > Number(low.split(".")[0]), `scripts/node.sh high (${high}) is a newer major`);
    });

    it("every locked package accepts the low end of the range, .node-version and the high end", () => {
        const lock = JSON.parse(read("package-lock.json"));
        assert.equal(lock.packages[""].engines.node, engines, "the lockfile records the same engines");
        for (const version of [semver.minVersion(engines).version, low, high]) {
            const refusing = Object.entries(lock.packages as Record<string, { engines?: { node?: string } }>)
                .filter(([, p]) => typeof p.engines?.node === "string" && !semver.satisfies(version, p.engines.node))
                .map(([name, p]) => `${name} (${p.engines!.node})`);
            assert.deepEqual(refusing, [], `locked packages refusing Node ${version}`);
        }
    });

    it("scripts/node.sh pins both ends with their tarball integrity", () => {
        for (const version of [low, high]) assert.match(nodeScript, new RegExp(`\\[${version.replace(/\./g, "\\.")}\\]="sha512-[A-Za-z0-9+/]+={0,2}"`), version);
    });

    it("npm refuses an unsupported Node at npm ci (engine-strict) and npm test says what to do", () => {
        assert.match(read(".npmrc"), /^engine-strict=true$/m);
        assert.equal(JSON.parse(read("package.json")).scripts.pretest, "node scripts/check-node.js");
        for (const old of ["v18.20.8", "v20.20.2", "v22.11.0", "v21.99.0"]) {
            assert.match(nodeVersionProblem(old, engines) ?? "", new RegExp(`needs Node.js >=22\\.12\\.0 \\(package.json engines\\); this is Node.js ${old}\\.[\\s\\S]*scripts/node.sh low npm test`));
        }
        for (const ok of ["v22.12.0", `v${low}`, "v22.13.0", "v23.0.0", `v${high}`]) assert.equal(nodeVersionProblem(ok, engines), null, ok);
        assert.throws(() => nodeVersionProblem("v22.12.0", "^22.12.0"), /engines.node must read ">=X.Y.Z"/);
    });
});
