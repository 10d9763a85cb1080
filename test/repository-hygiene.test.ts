import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { isMap, isScalar, isSeq, parseDocument } from "yaml";

const root = path.join(__dirname, "..");

/** Whether the ignore rules match `file`, tracked or not (it need not exist): exit 0 when ignored, 1 when not. */
function ignored(file: string): boolean {
    const result = spawnSync("git", ["check-ignore", "--quiet", "--no-index", file], { cwd: root, encoding: "utf8" });
    assert.ok(result.status === 0 || result.status === 1, `git check-ignore ${file} failed: ${result.stderr}`);
    return result.status === 0;
}

describe("repository hygiene", function () {
    before(function () {
        // A copy without git metadata (an unpacked tarball) has no ignore rules to check.
        if (spawnSync("git", ["rev-parse", "--is-inside-work-tree"], { cwd: root }).status !== 0) this.skip();
    });

    it("ignores what the README's steps and the tools write into the working tree", () => {
        const written = [
            "kubeconfig.json", // pulumi stack output kubeconfig --show-secrets > kubeconfig.json
            "out/dev/manifests.yaml", // npm start
            ".bench/offline/bench.js", // npm run bench
            "gke-istio-bluegreen-0.1.0.tgz", // npm pack
            "bin/index.js", // npm run build (prepare)
            "switch-plan.md", // the PR workflow's switch plan
        ];
        assert.deepEqual(written.filter((file) => !ignored(file)), []);
    });

    it("keeps the project's own files tracked", () => {
        const source = ["README.md", "CHANGELOG.md", "Pulumi.yaml", "Pulumi.dev.yaml", "docs/configuration.md", "components/index.ts", "index.ts"];
        assert.deepEqual(source.filter(ignored), []);
    });
});

describe("the example stack file (Pulumi.dev.yaml)", () => {
    const doc = parseDocument(fs.readFileSync(path.join(root, "Pulumi.dev.yaml"), "utf8"));

    it("holds every value as a string, the way pulumi config set writes it, so pulumi stack init rewrites no line", () => {
        // The CLI keeps comments and order but re-quotes numbers and booleans ("2", "false"): an
        // unquoted one would be rewritten by the user's first `pulumi stack init dev`.
        const config = doc.get("config");
        assert.ok(isMap(config), "Pulumi.dev.yaml has a config map");
        const notStrings = config.items.filter(({ value }) => {
            if (isScalar(value)) return typeof value.value !== "string";
            if (isSeq(value)) return value.items.some((item) => !isScalar(item) || typeof item.value !== "string");
            return true;
        }).map(({ key }) => String(key));
        assert.deepEqual(notStrings, []);
    });

    it("carries no secrets-provider state, which would tie it to one passphrase or key", () => {
        const stateKeys = ["encryptionsalt", "encryptedkey", "secretsprovider"].filter((key) => doc.has(key));
        assert.deepEqual(stateKeys, []);
    });
});
