import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";

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
